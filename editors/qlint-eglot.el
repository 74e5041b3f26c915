;;; qlint with eglot (built into Emacs 29; from ELPA or Debian's elpa-eglot on Emacs 28).
;; eglot runs one server per major mode: this makes qlint the server of these modes.
(with-eval-after-load 'eglot
  (add-to-list 'eglot-server-programs
               '((python-mode python-ts-mode yaml-mode yaml-ts-mode conf-toml-mode toml-ts-mode)
                 . ("qlint" "lsp"))))
(add-hook 'python-mode-hook #'eglot-ensure)
