/*
 * config.h - options from a file, read before the command line.
 *
 * A config file holds long options, one a line, without the dashes:
 *
 *     # comments and blank lines are skipped
 *     concurrency = 500
 *     per-host 16
 *     recursive
 *     user-agent = "my crawler/1.0 (+https://example.org/bot)"
 *
 * `name = value`, `name value` and a bare `name` for a flag; a value may be
 * quoted with "" or ''.  The file's options go before the command line's,
 * so for an option given once the command line wins; repeatable ones (-i)
 * take both.
 */
#ifndef CR_CONFIG_H
#define CR_CONFIG_H

#include <getopt.h>

/* Builds the argv that getopt_long should see: argv[0], the options of
 * the config file, then argv[1..].  The file is `--config FILE` if argv
 * has it (it must exist), else $XDG_CONFIG_HOME/crawler/config or
 * ~/.config/crawler/config if that exists; `--no-config` reads none.
 * Names are checked against opts (exact names; help, version and config
 * itself are refused), with FILE:LINE in the message.  Returns 0 and sets
 * *out_argc and *out_argv (kept for the life of the process), or -1 after
 * printing why (a usage error). */
int cr_config_argv(int argc, char **argv, const struct option *opts, int *out_argc,
                   char ***out_argv);

#endif
