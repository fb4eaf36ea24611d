/*
 * init.c - `sendcap init`: create the master key file if it is missing.
 *
 * Talks to no Redis.  The key is 32 random bytes, base64, in a 0600 file in
 * 0700 folders; an existing file is never overwritten (that would orphan every
 * sealed real key).
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int
cli_cmd_init(struct cli *cli, int argc, char **argv)
{
    char err[512];
    int r;

    if (argc > 0 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
        puts("usage: sendcap [--master-key-file PATH] init\n\n"
             "Creates a new random master key (32 bytes, base64) at PATH with mode 0600 if no\n"
             "file is there, and prints PATH.  An existing file is left untouched.\n"
             "PATH comes from --master-key-file or SENDCAP_MASTER_KEY_FILE.");
        return CLI_OK;
    }
    if (argc > 0)
        return cli_fail(CLI_USAGE, "init takes no arguments (got '%s')", argv[0]);
    if (cli->cfg.master_key_file == NULL)
        return cli_fail(CLI_USAGE, "where should the master key go? set --master-key-file PATH or "
                                   "SENDCAP_MASTER_KEY_FILE");
    r = store_secret_master_create(cli->cfg.master_key_file, err, sizeof(err));
    if (r < 0)
        return cli_fail(CLI_ERR, "%s", err);
    if (r == 0)
        fprintf(stderr, "sendcap: %s already exists; left as it is\n", cli->cfg.master_key_file);
    puts(cli->cfg.master_key_file);
    return CLI_OK;
}
