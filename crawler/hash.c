/* hash.c - hashing, hash set, intrusive hash table; see hash.h. */
#include "hash.h"

#include <stdlib.h>
#include <string.h>

#include "crawler.h"

uint64_t cr_hash64(const void *p, size_t n)
{
  const unsigned char *s = p;
  uint64_t h = 0xcbf29ce484222325ull;
  size_t i;

  for(i = 0; i < n; i++) {
    h ^= s[i];
    h *= 0x100000001b3ull;
  }
  /* FNV-1a alone mixes the last bytes poorly into the high bits; the
   * murmur3 finalizer fixes that for table indexing. */
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

void cr_hset_init(struct cr_hset *s)
{
  s->slots = NULL;
  s->cap = 0;
  s->len = 0;
}

void cr_hset_cleanup(struct cr_hset *s)
{
  free(s->slots);
  cr_hset_init(s);
}

static void hset_insert(uint64_t *slots, size_t cap, uint64_t h)
{
  size_t i = (size_t)h & (cap - 1);

  while(slots[i] && slots[i] != h)
    i = (i + 1) & (cap - 1);
  slots[i] = h;
}

int cr_hset_has(const struct cr_hset *s, uint64_t h)
{
  size_t i;

  if(!s->cap)
    return 0;
  if(!h)
    h = 1;
  i = (size_t)h & (s->cap - 1);
  while(s->slots[i]) {
    if(s->slots[i] == h)
      return 1;
    i = (i + 1) & (s->cap - 1);
  }
  return 0;
}

int cr_hset_add(struct cr_hset *s, uint64_t h)
{
  if(!h)
    h = 1;
  if(cr_hset_has(s, h))
    return 0;
  /* Keep the load at or below 1/2 so probes stay short. */
  if((s->len + 1) * 2 > s->cap) {
    size_t ncap = s->cap ? s->cap * 2 : 1024;
    uint64_t *ns = calloc(ncap, sizeof(*ns));
    size_t i;

    if(!ns)
      return CR_ENOMEM;
    for(i = 0; i < s->cap; i++)
      if(s->slots[i])
        hset_insert(ns, ncap, s->slots[i]);
    free(s->slots);
    s->slots = ns;
    s->cap = ncap;
  }
  hset_insert(s->slots, s->cap, h);
  s->len++;
  return 1;
}

void cr_htag_init(struct cr_htag *s)
{
  s->slots = NULL;
  s->tags = NULL;
  s->cap = 0;
  s->len = 0;
}

void cr_htag_cleanup(struct cr_htag *s)
{
  free(s->slots);
  free(s->tags);
  cr_htag_init(s);
}

/* The slot holding h, or the empty slot where it would go. */
static size_t htag_slot(const uint64_t *slots, size_t cap, uint64_t h)
{
  size_t i = (size_t)h & (cap - 1);

  while(slots[i] && slots[i] != h)
    i = (i + 1) & (cap - 1);
  return i;
}

uint16_t *cr_htag_get(const struct cr_htag *s, uint64_t h)
{
  size_t i;

  if(!s->cap)
    return NULL;
  if(!h)
    h = 1;
  i = htag_slot(s->slots, s->cap, h);
  return s->slots[i] ? &s->tags[i] : NULL;
}

int cr_htag_add(struct cr_htag *s, uint64_t h, uint16_t tag)
{
  size_t i;

  if(!h)
    h = 1;
  if(cr_htag_get(s, h))
    return 0;
  /* Keep the load at or below 1/2 so probes stay short. */
  if((s->len + 1) * 2 > s->cap) {
    size_t ncap = s->cap ? s->cap * 2 : 1024;
    uint64_t *ns = calloc(ncap, sizeof(*ns));
    uint16_t *nt = malloc(ncap * sizeof(*nt));

    if(!ns || !nt) {
      free(ns);
      free(nt);
      return CR_ENOMEM;
    }
    for(i = 0; i < s->cap; i++) {
      if(s->slots[i]) {
        size_t j = htag_slot(ns, ncap, s->slots[i]);

        ns[j] = s->slots[i];
        nt[j] = s->tags[i];
      }
    }
    free(s->slots);
    free(s->tags);
    s->slots = ns;
    s->tags = nt;
    s->cap = ncap;
  }
  i = htag_slot(s->slots, s->cap, h);
  s->slots[i] = h;
  s->tags[i] = tag;
  s->len++;
  return 1;
}

void cr_hmap_init(struct cr_hmap *m)
{
  m->b = NULL;
  m->nb = 0;
  m->len = 0;
}

void cr_hmap_cleanup(struct cr_hmap *m)
{
  free(m->b);
  cr_hmap_init(m);
}

void cr_hmap_drain(struct cr_hmap *m, void (*free_node)(struct cr_hnode *n))
{
  size_t i;

  for(i = 0; i < m->nb; i++) {
    struct cr_hnode *n = m->b[i];

    while(n) {
      struct cr_hnode *next = n->next;

      free_node(n);
      n = next;
    }
  }
  cr_hmap_cleanup(m);
}

struct cr_hnode *cr_hmap_get(const struct cr_hmap *m, const char *key)
{
  uint64_t h;
  struct cr_hnode *n;

  if(!m->nb)
    return NULL;
  h = cr_hash64(key, strlen(key));
  for(n = m->b[h & (m->nb - 1)]; n; n = n->next)
    if(n->hash == h && !strcmp(n->key, key))
      return n;
  return NULL;
}

int cr_hmap_put(struct cr_hmap *m, struct cr_hnode *n)
{
  return cr_hmap_put_hashed(m, n, cr_hash64(n->key, strlen(n->key)));
}

int cr_hmap_put_hashed(struct cr_hmap *m, struct cr_hnode *n, uint64_t hash)
{
  size_t i;

  if(m->len + 1 > m->nb) {
    size_t nnb = m->nb ? m->nb * 2 : 64;
    struct cr_hnode **nbk = calloc(nnb, sizeof(*nbk));

    if(!nbk)
      return CR_ENOMEM;
    for(i = 0; i < m->nb; i++) {
      struct cr_hnode *x = m->b[i];

      while(x) {
        struct cr_hnode *next = x->next;
        size_t j = x->hash & (nnb - 1);

        x->next = nbk[j];
        nbk[j] = x;
        x = next;
      }
    }
    free(m->b);
    m->b = nbk;
    m->nb = nnb;
  }
  n->hash = hash;
  i = n->hash & (m->nb - 1);
  n->next = m->b[i];
  m->b[i] = n;
  m->len++;
  return 0;
}

void cr_hmap_del(struct cr_hmap *m, struct cr_hnode *n)
{
  struct cr_hnode **pp = &m->b[n->hash & (m->nb - 1)];

  while(*pp && *pp != n)
    pp = &(*pp)->next;
  if(*pp) {
    *pp = n->next;
    m->len--;
  }
}
