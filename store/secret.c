/*
 * secret.c - AES-256-GCM sealing, master key files, vault key generation.
 * See secret.h for the invariants.
 */
#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "common/limits.h"
#include "common/util.h"

#define IV_LEN 12
#define TAG_LEN 16
#define SEAL_PREFIX "v1."

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

void
store_secret_wipe(void *p, size_t n)
{
    if (p != NULL)
        OPENSSL_cleanse(p, n);
}

void
store_secret_free(char *s)
{
    if (s == NULL)
        return;
    store_secret_wipe(s, strlen(s));
    free(s);
}

char *
store_secret_b64_encode(const unsigned char *in, size_t len)
{
    size_t cap = 4 * ((len + 2) / 3) + 1;
    char *out = malloc(cap);

    if (out == NULL)
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    return out;
}

long
store_secret_b64_decode(const char *in, unsigned char *out, size_t outcap)
{
    size_t n = strlen(in), pad = 0;
    unsigned char *tmp;
    int r;

    while (n > 0 && (in[n - 1] == '\n' || in[n - 1] == '\r' || in[n - 1] == ' '))
        n--;
    if (n == 0 || n % 4 != 0 || n > 4 * ((SIZE_MAX / 4) - 1))
        return -1;
    if (in[n - 1] == '=')
        pad++;
    if (n > 1 && in[n - 2] == '=')
        pad++;
    tmp = malloc(n / 4 * 3 + 1);
    if (tmp == NULL)
        return -1;
    r = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)n);
    if (r < 0 || (size_t)r < pad || (size_t)r - pad > outcap) {
        store_secret_wipe(tmp, n / 4 * 3 + 1);
        free(tmp);
        return -1;
    }
    r -= (int)pad;
    memcpy(out, tmp, (size_t)r);
    store_secret_wipe(tmp, n / 4 * 3 + 1);
    free(tmp);
    return r;
}

static int
derive(const unsigned char mk[SC_MASTER_KEY_LEN], const char *label, unsigned char out[32])
{
    unsigned int outlen = 32;

    return HMAC(EVP_sha256(), mk, SC_MASTER_KEY_LEN, (const unsigned char *)label, strlen(label),
                out, &outlen) == NULL
               ? -1
               : 0;
}

void
store_secret_master_check(const unsigned char mk[SC_MASTER_KEY_LEN], char out[17])
{
    unsigned char d[32];

    derive(mk, "sendcap/v1/master-check", d);
    for (int i = 0; i < 8; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    store_secret_wipe(d, sizeof(d));
}

int
store_secret_master_load(const struct sc_config *cfg, unsigned char out[SC_MASTER_KEY_LEN],
                         char *err, size_t errlen)
{
    char buf[256];
    const char *b64;
    long n;

    if (cfg->master_key_file != NULL) {
        struct stat st;
        ssize_t r;
        int fd = open(cfg->master_key_file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

        if (fd < 0) {
            snprintf(err, errlen, "cannot open master key file %s: %s", cfg->master_key_file,
                     strerror(errno));
            return -1;
        }
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            snprintf(err, errlen, "master key file %s is not a regular file", cfg->master_key_file);
            close(fd);
            return -1;
        }
        if (st.st_mode & 077) {
            snprintf(err, errlen,
                     "master key file %s is readable by others (mode %03o); chmod 600 it",
                     cfg->master_key_file, (unsigned)(st.st_mode & 0777));
            close(fd);
            return -1;
        }
        r = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (r <= 0) {
            snprintf(err, errlen, "cannot read master key file %s", cfg->master_key_file);
            return -1;
        }
        buf[r] = '\0';
        b64 = buf;
    } else if (cfg->master_key_env != NULL) {
        b64 = cfg->master_key_env;
    } else {
        snprintf(err, errlen,
                 "no master key: set --master-key-file or SENDCAP_MASTER_KEY_FILE "
                 "(create one with 'sendcap init')");
        return -1;
    }
    n = store_secret_b64_decode(b64, out, SC_MASTER_KEY_LEN);
    store_secret_wipe(buf, sizeof(buf));
    if (n != SC_MASTER_KEY_LEN) {
        store_secret_wipe(out, SC_MASTER_KEY_LEN);
        snprintf(err, errlen, "master key must be base64 of exactly 32 bytes");
        return -1;
    }
    return 0;
}

/* Create the parent folders of path with mode 0700 (like mkdir -p). */
static int
mkparents(const char *path)
{
    char tmp[4096];

    if (sc_strlcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp))
        return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

int
store_secret_master_create(const char *path, char *err, size_t errlen)
{
    unsigned char key[SC_MASTER_KEY_LEN];
    char *b64 = NULL;
    int fd = -1, ret = -1;
    size_t len;

    if (access(path, F_OK) == 0)
        return 0;
    if (mkparents(path) != 0) {
        snprintf(err, errlen, "cannot create the folder of %s: %s", path, strerror(errno));
        return -1;
    }
    if (RAND_bytes(key, sizeof(key)) != 1) {
        snprintf(err, errlen, "the system random generator failed");
        goto fail;
    }
    b64 = store_secret_b64_encode(key, sizeof(key));
    if (b64 == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        if (errno == EEXIST) {
            ret = 0;
            goto fail;
        }
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        goto fail;
    }
    len = strlen(b64);
    b64[len] = '\n';
    if (write(fd, b64, len + 1) != (ssize_t)(len + 1) || fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        fd = -1;
        unlink(path);
        goto fail;
    }
    b64[len] = '\0';
    ret = 1;
fail:
    if (fd >= 0)
        close(fd);
    store_secret_wipe(key, sizeof(key));
    if (b64 != NULL) {
        store_secret_wipe(b64, strlen(b64));
        free(b64);
    }
    return ret;
}

/* Sealing under the key derived with label, for plaintexts up to max. */
static char *seal(const unsigned char mk[SC_MASTER_KEY_LEN], const char *label, size_t max,
                  const char *aad, const unsigned char *pt, size_t ptlen, char *err, size_t errlen);
static char *open_sealed(const unsigned char mk[SC_MASTER_KEY_LEN], const char *label,
                         const char *aad, const char *sealed, size_t *ptlen, char *err,
                         size_t errlen);

char *
store_secret_seal(const unsigned char mk[SC_MASTER_KEY_LEN], const char *aad,
                  const unsigned char *pt, size_t ptlen, char *err, size_t errlen)
{
    return seal(mk, "sendcap/v1/seal", SC_SECRET_MAX, aad, pt, ptlen, err, errlen);
}

char *
store_secret_open(const unsigned char mk[SC_MASTER_KEY_LEN], const char *aad, const char *sealed,
                  size_t *ptlen, char *err, size_t errlen)
{
    return open_sealed(mk, "sendcap/v1/seal", aad, sealed, ptlen, err, errlen);
}

char *
store_secret_seal_data(const unsigned char mk[SC_MASTER_KEY_LEN], const char *aad,
                       const unsigned char *pt, size_t ptlen, char *err, size_t errlen)
{
    return seal(mk, "sendcap/v1/data", SC_SEALED_DATA_MAX, aad, pt, ptlen, err, errlen);
}

char *
store_secret_open_data(const unsigned char mk[SC_MASTER_KEY_LEN], const char *aad,
                       const char *sealed, size_t *ptlen, char *err, size_t errlen)
{
    return open_sealed(mk, "sendcap/v1/data", aad, sealed, ptlen, err, errlen);
}

static char *
seal(const unsigned char mk[SC_MASTER_KEY_LEN], const char *label, size_t max, const char *aad,
     const unsigned char *pt, size_t ptlen, char *err, size_t errlen)
{
    unsigned char k[32], *raw = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    char *b64 = NULL, *out = NULL;
    size_t rawlen = IV_LEN + ptlen + TAG_LEN;
    int n, fin;

    if (ptlen > max) {
        snprintf(err, errlen, "secret too long");
        return NULL;
    }
    raw = malloc(rawlen);
    ctx = EVP_CIPHER_CTX_new();
    if (raw == NULL || ctx == NULL || derive(mk, label, k) != 0 || RAND_bytes(raw, IV_LEN) != 1) {
        snprintf(err, errlen, "cannot seal: out of memory or no randomness");
        goto fail;
    }
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, IV_LEN, NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, k, raw) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
        EVP_EncryptUpdate(ctx, raw + IV_LEN, &n, pt, (int)ptlen) != 1 ||
        EVP_EncryptFinal_ex(ctx, raw + IV_LEN + n, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, raw + IV_LEN + ptlen) != 1) {
        snprintf(err, errlen, "cannot seal: cipher failure");
        goto fail;
    }
    b64 = store_secret_b64_encode(raw, rawlen);
    if (b64 == NULL || (out = malloc(strlen(SEAL_PREFIX) + strlen(b64) + 1)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    memcpy(out, SEAL_PREFIX, strlen(SEAL_PREFIX));
    memcpy(out + strlen(SEAL_PREFIX), b64, strlen(b64) + 1);
fail:
    store_secret_wipe(k, sizeof(k));
    if (raw != NULL) {
        store_secret_wipe(raw, rawlen);
        free(raw);
    }
    free(b64);
    EVP_CIPHER_CTX_free(ctx);
    return out;
}

static char *
open_sealed(const unsigned char mk[SC_MASTER_KEY_LEN], const char *label, const char *aad,
            const char *sealed, size_t *ptlen, char *err, size_t errlen)
{
    unsigned char k[32], *raw = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    char *pt = NULL, *ret = NULL;
    size_t cap, ctlen = 0;
    long rawlen;
    int n, fin;

    if (strncmp(sealed, SEAL_PREFIX, strlen(SEAL_PREFIX)) != 0) {
        snprintf(err, errlen, "sealed value has an unknown format");
        return NULL;
    }
    sealed += strlen(SEAL_PREFIX);
    cap = strlen(sealed) / 4 * 3 + 3;
    raw = malloc(cap);
    ctx = EVP_CIPHER_CTX_new();
    if (raw == NULL || ctx == NULL || derive(mk, label, k) != 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    rawlen = store_secret_b64_decode(sealed, raw, cap);
    if (rawlen < IV_LEN + TAG_LEN + 1) {
        snprintf(err, errlen, "sealed value is malformed");
        goto fail;
    }
    ctlen = (size_t)rawlen - IV_LEN - TAG_LEN;
    pt = malloc(ctlen + 1);
    if (pt == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, IV_LEN, NULL) != 1 ||
        EVP_DecryptInit_ex(ctx, NULL, NULL, k, raw) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
        EVP_DecryptUpdate(ctx, (unsigned char *)pt, &n, raw + IV_LEN, (int)ctlen) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, raw + IV_LEN + ctlen) != 1 ||
        EVP_DecryptFinal_ex(ctx, (unsigned char *)pt + n, &fin) != 1) {
        snprintf(err, errlen,
                 "sealed value does not open under this master key (wrong key or "
                 "tampered value)");
        goto fail;
    }
    pt[ctlen] = '\0';
    if (memchr(pt, '\0', ctlen) != NULL) {
        snprintf(err, errlen, "sealed value holds a NUL byte");
        goto fail;
    }
    *ptlen = ctlen;
    ret = pt;
    pt = NULL;
fail:
    store_secret_wipe(k, sizeof(k));
    if (raw != NULL) {
        store_secret_wipe(raw, cap);
        free(raw);
    }
    if (pt != NULL) {
        store_secret_wipe(pt, ctlen + 1);
        free(pt);
    }
    EVP_CIPHER_CTX_free(ctx);
    return ret;
}

int
store_secret_random_base62(char *out, size_t n)
{
    unsigned char buf[64];
    size_t have = 0, pos = sizeof(buf);

    while (have < n) {
        if (pos == sizeof(buf)) {
            if (RAND_bytes(buf, sizeof(buf)) != 1)
                return -1;
            pos = 0;
        }
        /* 248 = 4 * 62: bytes >= 248 are dropped so every symbol is equally likely. */
        if (buf[pos] < 248)
            out[have++] = b62[buf[pos] % 62];
        pos++;
    }
    out[n] = '\0';
    store_secret_wipe(buf, sizeof(buf));
    return 0;
}

int
store_secret_vault_key_new(char *buf, size_t len)
{
    if (len < 3 + SC_VAULT_KEY_CHARS + 1)
        return -1;
    memcpy(buf, "vk_", 3);
    return store_secret_random_base62(buf + 3, SC_VAULT_KEY_CHARS);
}

int
store_secret_vault_key_valid(const char *s)
{
    size_t n = 0;

    if (strncmp(s, "vk_", 3) != 0)
        return 0;
    for (s += 3; *s; s++, n++) {
        if (strchr(b62, *s) == NULL)
            return 0;
        if (n > 256)
            return 0;
    }
    return n >= SC_VAULT_KEY_CHARS;
}

void
store_secret_key_hash(const char *vault_key, size_t len, char hex[SC_KEY_HASH_HEX])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    static const char hx[] = "0123456789abcdef";

    SHA256((const unsigned char *)vault_key, len, d);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        hex[2 * i] = hx[d[i] >> 4];
        hex[2 * i + 1] = hx[d[i] & 15];
    }
    hex[64] = '\0';
}

void
store_secret_real_fingerprint(const char *real_key, char *out, size_t outlen)
{
    size_t n = strlen(real_key);

    snprintf(out, outlen, "re_…%s", n >= 4 ? real_key + n - 4 : "????");
}
