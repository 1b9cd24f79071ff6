/* idmap.c: open-addressing (linear probing, backward-shift deletion) id → pointer map. */
#include "common/idmap.h"
#include "common/xalloc.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  rl_id_t id;
  void *value; /* NULL: empty slot */
} s_slot_t;

struct rl_idmap_t {
  s_slot_t *slots;
  size_t cap; /* power of two */
  size_t size;
};

rl_idmap_t *rl_idmap_new(void) {
  rl_idmap_t *m = rl_xcalloc(1, sizeof *m);
  m->cap = 16;
  m->slots = rl_xcalloc(m->cap, sizeof *m->slots);
  return m;
}

void rl_idmap_destroy(rl_idmap_t **p) {
  if (!p || !*p) return;
  free((*p)->slots);
  free(*p);
  *p = NULL;
}

static size_t s_find(const rl_idmap_t *m, const rl_id_t *id) {
  size_t mask = m->cap - 1, i = rl_id_hash(id) & mask;
  while (m->slots[i].value && !rl_id_eq(&m->slots[i].id, id)) i = (i + 1) & mask;
  return i;
}

void *rl_idmap_get(const rl_idmap_t *m, const rl_id_t *id) { return m->slots[s_find(m, id)].value; }

static void s_grow(rl_idmap_t *m) {
  s_slot_t *old = m->slots;
  size_t oldcap = m->cap;
  m->slots = rl_xcalloc(oldcap * 2, sizeof *m->slots);
  m->cap = oldcap * 2;
  for (size_t i = 0; i < oldcap; i++)
    if (old[i].value) m->slots[s_find(m, &old[i].id)] = old[i];
  free(old);
}

void rl_idmap_put(rl_idmap_t *m, const rl_id_t *id, void *value) {
  assert(value);
  if ((m->size + 1) * 4 > m->cap * 3) s_grow(m);
  size_t i = s_find(m, id);
  if (!m->slots[i].value) m->size++;
  m->slots[i].id = *id;
  m->slots[i].value = value;
}

void *rl_idmap_remove(rl_idmap_t *m, const rl_id_t *id) {
  size_t mask = m->cap - 1, i = s_find(m, id);
  void *value = m->slots[i].value;
  if (!value) return NULL;
  m->size--;
  /* Backward-shift: pull later entries of the probe run into the hole. */
  size_t hole = i, j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (!m->slots[j].value) break;
    size_t home = rl_id_hash(&m->slots[j].id) & mask;
    bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
    if (movable) {
      m->slots[hole] = m->slots[j];
      hole = j;
    }
  }
  m->slots[hole].value = NULL;
  return value;
}

size_t rl_idmap_size(const rl_idmap_t *m) { return m->size; }

void *rl_idmap_next(const rl_idmap_t *m, size_t *cursor, rl_id_t *id_out) {
  while (*cursor < m->cap) {
    s_slot_t *s = &m->slots[(*cursor)++];
    if (s->value) {
      if (id_out) *id_out = s->id;
      return s->value;
    }
  }
  return NULL;
}
