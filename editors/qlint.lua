-- qlint for Neovim (0.7 or newer), next to the language servers you already use.
-- Put it in your config (e.g. ~/.config/nvim/plugin/qlint.lua) with `qlint` on PATH.
local function project_root(bufnr)
  local dir = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(bufnr), ":p:h")
  for _, marker in ipairs({ "pyproject.toml", "manage.py", "setup.cfg" }) do
    local found = vim.fn.findfile(marker, dir .. ";")
    if found ~= "" then return vim.fn.fnamemodify(found, ":p:h") end
  end
  local git = vim.fn.finddir(".git", dir .. ";")
  return git ~= "" and vim.fn.fnamemodify(git, ":p:h:h") or vim.fn.getcwd()
end

local config = { name = "qlint", cmd = { "qlint", "lsp" } }
local clients = {} -- root -> client id, for Neovim 0.7, which has no vim.lsp.start

vim.api.nvim_create_autocmd("FileType", {
  pattern = { "python", "yaml", "toml" },
  callback = function(args)
    local root = project_root(args.buf)
    if vim.lsp.start then -- 0.8+: reuses a running client with the same name and root
      vim.lsp.start(vim.tbl_extend("force", config, { root_dir = root }), { bufnr = args.buf })
      return
    end
    clients[root] = clients[root] or vim.lsp.start_client(vim.tbl_extend("force", config, { root_dir = root }))
    vim.lsp.buf_attach_client(args.buf, clients[root])
  end,
})
