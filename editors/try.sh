#!/usr/bin/env bash
# Opens the incident example in each editor installed here, headless, with the config
# from this folder, and prints the diagnostics qlint publishes for its settings module.
#   editors/try.sh        (needs qlint on PATH; nvim and/or emacs with eglot)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$here/../examples/incident" "$work/incident"
cd "$work/incident"
git init -q .  # a project of its own, as the editors find projects
target=insights/settings/base.py

if command -v nvim >/dev/null; then
  echo "== Neovim $(nvim --version | head -1)"
  cat > "$work/report.lua" <<'LUA'
local ok = vim.wait(60000, function() return #vim.diagnostic.get(0) > 0 end, 100)
for _, d in ipairs(vim.diagnostic.get(0)) do
  print(string.format("%s:%d:%d %s %s", vim.fn.expand("%"), d.lnum + 1, d.col + 1, d.code or "", d.message:sub(1, 60)))
end
if not ok then print("no diagnostics within 60 s") end
vim.cmd("qa!")
LUA
  timeout 120 nvim --headless -u "$here/qlint.lua" -c "filetype on" -c "edit $target" -c "luafile $work/report.lua" 2>&1
  echo
fi

if command -v emacs >/dev/null; then
  echo "== $(emacs --version | head -1)"
  timeout 120 emacs --batch -l package --eval "(package-initialize)" -l eglot -l "$here/qlint-eglot.el" --eval "
    (progn
      (find-file \"$target\")
      (eglot-ensure)
      (run-hooks 'post-command-hook)
      (let ((tries 0))
        (while (and (< tries 600) (null (flymake-diagnostics)))
          (setq tries (1+ tries))
          (accept-process-output nil 0.1)))
      (dolist (d (flymake-diagnostics))
        (princ (format \"%s:%d %s\n\" \"$target\" (line-number-at-pos (flymake-diagnostic-beg d))
                       (substring (flymake-diagnostic-text d) 0 60)))))" 2>&1 | grep -v "^Loading\|python-indent-offset"
fi
