/* Prints the layout of <linux/pfkeyv2.h> as JSON and builds two PF_KEY
 * messages byte by byte with the kernel's own structures, for
 * tests/test_key_pfkey.py to compare with kame.key.pfkey. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/pfkeyv2.h>
#include <linux/ipsec.h>

static unsigned char buf[4096];
static size_t len;

static void *put(size_t n) { void *p = buf + len; memset(p, 0, n); len += n; return p; }

static void hexout(const char *name) {
    printf("\"%s\": \"", name);
    for (size_t i = 0; i < len; i++) printf("%02x", buf[i]);
    printf("\",\n");
}

static void addr(uint16_t type, const char *a, uint8_t plen, uint8_t proto, uint16_t port) {
    struct sadb_address *ad = put(sizeof *ad);
    struct sockaddr_in6 *s = put(32);
    ad->sadb_address_len = (sizeof *ad + 32) / 8;
    ad->sadb_address_exttype = type;
    ad->sadb_address_proto = proto;
    ad->sadb_address_prefixlen = plen;
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    inet_pton(AF_INET6, a, &s->sin6_addr);
}

static void key(uint16_t type, const unsigned char *k, int n) {
    struct sadb_key *kk = put(sizeof *kk);
    int padded = (n + 7) & ~7;
    unsigned char *p = put(padded);
    kk->sadb_key_len = (sizeof *kk + padded) / 8;
    kk->sadb_key_exttype = type;
    kk->sadb_key_bits = n * 8;
    memcpy(p, k, n);
}

#define OFF(s, f) printf("\"%s.%s\": %zu,\n", #s, #f, offsetof(struct s, f))
#define SZ(s) printf("\"sizeof.%s\": %zu,\n", #s, sizeof(struct s))
#define C(x) printf("\"%s\": %d,\n", #x, (int)(x))

int main(void) {
    printf("{\n");
    SZ(sadb_msg); SZ(sadb_ext); SZ(sadb_sa); SZ(sadb_lifetime); SZ(sadb_address);
    SZ(sadb_key); SZ(sadb_ident); SZ(sadb_prop); SZ(sadb_comb); SZ(sadb_supported);
    SZ(sadb_alg); SZ(sadb_spirange); SZ(sadb_x_policy); SZ(sadb_x_ipsecrequest);
    SZ(sadb_x_sa2); SZ(sockaddr_in6); SZ(sockaddr_in);
    OFF(sadb_msg, sadb_msg_len); OFF(sadb_msg, sadb_msg_seq); OFF(sadb_msg, sadb_msg_pid);
    OFF(sadb_sa, sadb_sa_spi); OFF(sadb_sa, sadb_sa_replay); OFF(sadb_sa, sadb_sa_flags);
    OFF(sadb_lifetime, sadb_lifetime_bytes); OFF(sadb_lifetime, sadb_lifetime_usetime);
    OFF(sadb_address, sadb_address_prefixlen); OFF(sadb_key, sadb_key_bits);
    OFF(sadb_x_policy, sadb_x_policy_id); OFF(sadb_x_policy, sadb_x_policy_priority);
    OFF(sadb_x_ipsecrequest, sadb_x_ipsecrequest_reqid);
    OFF(sadb_x_sa2, sadb_x_sa2_reqid); OFF(sadb_comb, sadb_comb_soft_bytes);
    OFF(sadb_comb, sadb_comb_hard_usetime);
    C(SADB_ADD); C(SADB_GETSPI); C(SADB_ACQUIRE); C(SADB_REGISTER); C(SADB_EXPIRE);
    C(SADB_FLUSH); C(SADB_DUMP); C(SADB_X_SPDADD); C(SADB_X_SPDDELETE); C(SADB_X_SPDDUMP);
    C(SADB_X_SPDFLUSH); C(SADB_X_SPDDELETE2); C(SADB_MAX);
    C(SADB_SATYPE_AH); C(SADB_SATYPE_ESP); C(SADB_X_SATYPE_IPCOMP);
    C(SADB_EXT_SA); C(SADB_EXT_LIFETIME_HARD); C(SADB_EXT_ADDRESS_DST); C(SADB_EXT_KEY_ENCRYPT);
    C(SADB_EXT_PROPOSAL); C(SADB_EXT_SPIRANGE); C(SADB_X_EXT_POLICY); C(SADB_X_EXT_SA2);
    C(SADB_AALG_MD5HMAC); C(SADB_AALG_SHA1HMAC); C(SADB_X_AALG_SHA2_256HMAC);
    C(SADB_X_AALG_NULL); C(SADB_EALG_DESCBC); C(SADB_EALG_3DESCBC); C(SADB_X_EALG_AESCBC);
    C(SADB_EALG_NULL); C(SADB_X_EALG_BLOWFISHCBC); C(SADB_X_EALG_CASTCBC);
    C(SADB_X_EALG_AES_GCM_ICV16); C(SADB_X_CALG_DEFLATE);
    C(IPSEC_MODE_TRANSPORT); C(IPSEC_MODE_TUNNEL); C(IPSEC_DIR_INBOUND); C(IPSEC_DIR_OUTBOUND);
    C(IPSEC_POLICY_DISCARD); C(IPSEC_POLICY_NONE); C(IPSEC_POLICY_IPSEC);
    C(IPSEC_LEVEL_USE); C(IPSEC_LEVEL_REQUIRE); C(IPSEC_LEVEL_UNIQUE);

    /* SADB_ADD esp, aes-cbc + hmac-sha1, tunnel, reqid 7, hard 3600 s */
    {
        static const unsigned char ek[16] = "0123456789abcdef";
        static const unsigned char ak[20] = "kame-auth-key-20-oct";
        struct sadb_msg *m = put(sizeof *m);
        struct sadb_sa *sa = put(sizeof *sa);
        struct sadb_lifetime *lh;
        struct sadb_x_sa2 *sa2;
        m->sadb_msg_version = PF_KEY_V2;
        m->sadb_msg_type = SADB_ADD;
        m->sadb_msg_satype = SADB_SATYPE_ESP;
        m->sadb_msg_seq = 42;
        m->sadb_msg_pid = 4242;
        sa->sadb_sa_len = sizeof *sa / 8;
        sa->sadb_sa_exttype = SADB_EXT_SA;
        sa->sadb_sa_spi = htonl(0x1000);
        sa->sadb_sa_replay = 4;
        sa->sadb_sa_state = SADB_SASTATE_MATURE;
        sa->sadb_sa_auth = SADB_AALG_SHA1HMAC;
        sa->sadb_sa_encrypt = SADB_X_EALG_AESCBC;
        lh = put(sizeof *lh);
        lh->sadb_lifetime_len = sizeof *lh / 8;
        lh->sadb_lifetime_exttype = SADB_EXT_LIFETIME_HARD;
        lh->sadb_lifetime_addtime = 3600;
        lh->sadb_lifetime_bytes = 1000000;
        addr(SADB_EXT_ADDRESS_SRC, "2001:db8::1", 128, 255, 0);
        addr(SADB_EXT_ADDRESS_DST, "2001:db8::2", 128, 255, 0);
        key(SADB_EXT_KEY_AUTH, ak, 20);
        key(SADB_EXT_KEY_ENCRYPT, ek, 16);
        sa2 = put(sizeof *sa2);
        sa2->sadb_x_sa2_len = sizeof *sa2 / 8;
        sa2->sadb_x_sa2_exttype = SADB_X_EXT_SA2;
        sa2->sadb_x_sa2_mode = IPSEC_MODE_TUNNEL;
        sa2->sadb_x_sa2_reqid = 7;
        m = (struct sadb_msg *)buf;
        m->sadb_msg_len = len / 8;
        hexout("add");
    }
    len = 0;
    /* SADB_X_SPDADD 2001:db8:a::/64[any] 2001:db8:b::/64[80] tcp -P out ipsec
     *   esp/tunnel/2001:db8::c-2001:db8::d/require ah/transport//unique:5 */
    {
        struct sadb_msg *m = put(sizeof *m);
        struct sadb_x_policy *pol;
        struct sadb_x_ipsecrequest *r;
        struct sockaddr_in6 *s;
        size_t pol_at;
        m->sadb_msg_version = PF_KEY_V2;
        m->sadb_msg_type = SADB_X_SPDADD;
        m->sadb_msg_seq = 1;
        m->sadb_msg_pid = 7;
        addr(SADB_EXT_ADDRESS_SRC, "2001:db8:a::", 64, IPPROTO_TCP, 0);
        addr(SADB_EXT_ADDRESS_DST, "2001:db8:b::", 64, IPPROTO_TCP, 80);
        pol_at = len;
        pol = put(sizeof *pol);
        pol->sadb_x_policy_exttype = SADB_X_EXT_POLICY;
        pol->sadb_x_policy_type = IPSEC_POLICY_IPSEC;
        pol->sadb_x_policy_dir = IPSEC_DIR_OUTBOUND;
        r = put(sizeof *r);
        r->sadb_x_ipsecrequest_len = sizeof *r + 2 * sizeof(struct sockaddr_in6);
        r->sadb_x_ipsecrequest_proto = IPPROTO_ESP;
        r->sadb_x_ipsecrequest_mode = IPSEC_MODE_TUNNEL;
        r->sadb_x_ipsecrequest_level = IPSEC_LEVEL_REQUIRE;
        s = put(sizeof *s);
        s->sin6_family = AF_INET6;
        inet_pton(AF_INET6, "2001:db8::c", &s->sin6_addr);
        s = put(sizeof *s);
        s->sin6_family = AF_INET6;
        inet_pton(AF_INET6, "2001:db8::d", &s->sin6_addr);
        /* 16 + 28 + 28 = 72 octets: a multiple of 8 already */
        r = put(sizeof *r);
        r->sadb_x_ipsecrequest_len = sizeof *r;
        r->sadb_x_ipsecrequest_proto = IPPROTO_AH;
        r->sadb_x_ipsecrequest_mode = IPSEC_MODE_TRANSPORT;
        r->sadb_x_ipsecrequest_level = IPSEC_LEVEL_UNIQUE;
        r->sadb_x_ipsecrequest_reqid = 5;
        pol = (struct sadb_x_policy *)(buf + pol_at);
        pol->sadb_x_policy_len = (len - pol_at) / 8;
        m = (struct sadb_msg *)buf;
        m->sadb_msg_len = len / 8;
        hexout("spdadd");
    }
    printf("\"end\": 0\n}\n");
    return 0;
}
