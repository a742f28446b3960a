# Sourced by the scripts under scripts/git/, never run: their `git` runs no program an agent could
# plant in the repository it shares with them (hatchdoit/steps/gitops.py does the same for
# hatchdoit's own git): no hook, no fsmonitor, no filter, diff or merge driver named in the
# repo's config, no pager, editor or signing program.
# shellcheck shell=bash

# The per-driver programs of the config of the repository `git ARGS` would run in (-C DIR).
planted_drivers() {
  local dir=. prev='' arg
  for arg in "$@"; do
    if [ "$prev" = -C ]; then dir=$arg; fi
    prev=$arg
  done
  command git -C "$dir" config --null --name-only --get-regexp \
    '^(filter|diff|merge)\..+\.(clean|smudge|process|required|command|textconv|driver)$' \
    2>/dev/null || true
}

git() {
  local args=(-c core.fsmonitor=false -c core.hooksPath=/dev/null/no-hooks -c core.pager=cat
              -c core.editor=true -c sequence.editor=true -c diff.external=
              -c commit.gpgSign=false -c tag.gpgSign=false -c gpg.program=false)
  local key
  while IFS= read -r -d '' key; do
    case ${key##*.} in
      required|driver) args+=(-c "$key=false") ;;
      *) args+=(-c "$key=") ;;
    esac
  done < <(planted_drivers "$@")
  GIT_PAGER=cat GIT_EDITOR=true GIT_TERMINAL_PROMPT=0 command git "${args[@]}" "$@"
}
