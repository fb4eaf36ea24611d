/*
 * secret.h - key material: the master key, sealing real Resend keys at rest,
 * vault key generation and hashing.
 *
 * Real Resend keys are sealed with AES-256-GCM (random 12-byte IV, 16-byte
 * tag) under a key derived from the 32-byte master key, with the upstream's
 * name as additional authenticated data, so a sealed value moved to another
 * upstream's record does not open.  Vault keys are never stored: only
 * SHA-256(vault key), which is safe because a vault key carries 256 bits of
 * randomness.  Every buffer that held a secret is wiped before it is freed.
 */
#ifndef SC_STORE_SECRET_H
#define SC_STORE_SECRET_H

#include <stddef.h>

#include "common/config.h"

#define SC_MASTER_KEY_LEN 32
#define SC_KEY_HASH_HEX 65 /* 64 hex digits + NUL */

/* Load the master key from cfg->master_key_file, else cfg->master_key_env
 * (base64 of 32 bytes).  Refuses a file readable by group or others.
 * Returns 0, or -1 with a one-line reason in err. */
int store_secret_master_load(const struct sc_config *cfg, unsigned char out[SC_MASTER_KEY_LEN],
                             char *err, size_t errlen);

/* Create a new random master key file (mode 0600, parent folders 0700) at
 * path.  Returns 1 if created, 0 if it already existed (left untouched), -1
 * with err. */
int store_secret_master_create(const char *path, char *err, size_t errlen);

/* Short public check value of a master key (16 hex + NUL), stored in Redis
 * so a wrong master key is detected before anything is sealed with it. */
void store_secret_master_check(const unsigned char mk[SC_MASTER_KEY_LEN], char out[17]);

/* Seal plaintext under mk with aad.  Returns a new NUL-terminated string
 * "v1.<base64>" (caller frees), or NULL with err. */
char *store_secret_seal(const unsigned char mk[SC_MASTER_KEY_LEN], const char *aad,
                        const unsigned char *pt, size_t ptlen, char *err, size_t errlen);

/* Open a sealed string.  Returns a new NUL-terminated plaintext (caller
 * releases it with store_secret_free, which wipes it) and its length in
 * *ptlen, or NULL with err when the value is malformed or was tampered
 * with (wrong key, IV, tag, ciphertext or aad). */
char *store_secret_open(const unsigned char mk[SC_MASTER_KEY_LEN], const char *aad,
                        const char *sealed, size_t *ptlen, char *err, size_t errlen);

/* The same for data (a held send's body, SPEC §7), under a key derived
 * apart from the one that seals real keys, up to SC_SEALED_DATA_MAX bytes. */
char *store_secret_seal_data(const unsigned char mk[SC_MASTER_KEY_LEN], const char *aad,
                             const unsigned char *pt, size_t ptlen, char *err, size_t errlen);
char *store_secret_open_data(const unsigned char mk[SC_MASTER_KEY_LEN], const char *aad,
                             const char *sealed, size_t *ptlen, char *err, size_t errlen);

/* Wipe and free a string returned by store_secret_open (NULL is fine). */
void store_secret_free(char *s);

/* Wipe n bytes in a way the compiler cannot elide. */
void store_secret_wipe(void *p, size_t n);

/* Fill out[0..n-1] with uniform base62 characters from the OS CSPRNG
 * (rejection sampling, no modulo bias) and NUL-terminate out[n].
 * Returns 0 or -1. */
int store_secret_random_base62(char *out, size_t n);

/* Make a new vault key "vk_" + SC_VAULT_KEY_CHARS base62 (buf >= 48). */
int store_secret_vault_key_new(char *buf, size_t len);

/* Does s have the shape of a vault key ("vk_" + >= 43 base62)? */
int store_secret_vault_key_valid(const char *s);

/* Hex SHA-256 of a vault key: its lookup handle in Redis. */
void store_secret_key_hash(const char *vault_key, size_t len, char hex[SC_KEY_HASH_HEX]);

/* Public fingerprint of a real Resend key: "re_…" + its last 4 characters. */
void store_secret_real_fingerprint(const char *real_key, char *out, size_t outlen);

/* base64 helpers (standard alphabet, padded).  encode returns a new string;
 * decode writes at most outcap bytes and returns the length or -1. */
char *store_secret_b64_encode(const unsigned char *in, size_t len);
long store_secret_b64_decode(const char *in, unsigned char *out, size_t outcap);

#endif
