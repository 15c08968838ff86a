# bash completion for crawler.  The option list comes from `crawler --help`,
# so it never falls behind the binary; an option whose argument is a FILE or
# a DIR completes file or directory names.
_crawler()
{
    local cur prev words cword
    _init_completion -s || return

    case $prev in
        -i | --input | --manifest | --ca-certificate | --certificate | \
        --private-key | --load-cookies | --save-cookies | --netrc-file | \
        --config)
            _filedir
            return
            ;;
        -o | --output | --ca-directory)
            _filedir -d
            return
            ;;
    esac
    $split && return

    if [[ $cur == -* ]]; then
        local opts
        opts=$("$1" --help 2>/dev/null | grep -oE -- '--[a-z0-9][a-z0-9.-]*' | sort -u)
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return
    fi
    _filedir
}
complete -F _crawler crawler
