# bash completion for hermod(1). Installed by `make install` into
# $(PREFIX)/share/bash-completion/completions/hermod.
_hermod()
{
    local cur prev cmd
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    cmd=${COMP_WORDS[1]}
    local cmds="serve check-config config models ps unload logs chat route langid plan
        estimate ingest search export import version help"
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "$cmds" -- "$cur"))
        return
    fi
    case $prev in
    --config|-c|--out|-o|--store)
        COMPREPLY=($(compgen -f -- "$cur"))
        return ;;
    -m|--model)
        # The configured models, from the config on the line or the default.
        local cfg="" i
        for ((i = 1; i < COMP_CWORD; i++)); do
            [ "${COMP_WORDS[i]}" = --config ] && cfg="--config ${COMP_WORDS[i+1]}"
        done
        COMPREPLY=($(compgen -W "$(hermod models $cfg 2>/dev/null | sed -n 's/^\([^ ]\+\).*/\1/p') auto" -- "$cur"))
        return ;;
    --log-level)
        COMPREPLY=($(compgen -W "error warn info debug" -- "$cur"))
        return ;;
    esac
    local opts="--help"
    case $cmd in
    serve) opts="$opts --config --listen --log-level" ;;
    check-config) opts="$opts --no-files" ;;
    config) opts="$opts --config --default" ;;
    models) opts="$opts --config --catalog --json" ;;
    ps) opts="$opts --all --json --url --config" ;;
    unload) opts="$opts --url --config all" ;;
    logs) opts="$opts -f --follow --bytes --url --config" ;;
    chat) opts="$opts -m --model --system --max-tokens --url --config" ;;
    route) opts="$opts --explain --config --route --task --json" ;;
    plan) opts="$opts --config --budget --seed" ;;
    estimate) opts="$opts --ctx --parallel --kv-type --json" ;;
    ingest) opts="$opts --at --source --model --kind --url --config --json" ;;
    search) opts="$opts --since --until --kind --entity --store --json --limit" ;;
    export) opts="$opts --store --out" ;;
    import) opts="$opts llama-swap --out" ;;
    esac
    if [[ $cur == -* || ( $cmd == import && $COMP_CWORD -eq 2 ) ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -F _hermod hermod
