// tags.cc -- loop tags: which loop an id belongs to (see id.h).
//
// Two live loops never share a tag: a loop takes a free tag at creation and
// gives it back when freed. A tag remembers the generation floor it gives its
// next holder: one above every generation its earlier holders handed out. So
// an id of a freed loop can never name a handle of a later loop with the same
// tag, and ids never repeat for the life of the process.
//
// A tag whose floor leaves fewer than kTagReserve generations is spent and
// never handed out again; with every free tag spent, weft_loop_new fails
// (WEFT_ENOMEM). Each holder uses up as many generations as its most reused
// slot (of any kind) went through, so the 4096 tags serve at least
// 4096 * (2^22 - 4096) = 17.2e9 loops that each reuse a slot once.
#include <pthread.h>

#include "../capi/include/weft.h"
#include "id.h"

namespace weft {

namespace {

constexpr uint32_t kTags = kTagMask + 1;
#ifdef WEFT_WRAP_TEST
// Test builds start every tag near the end of its generations, so that
// retiring slots and spending tags happen within seconds.
constexpr uint32_t kFirstFloor = kGenMask + 1 - kTagReserve - 32;
#else
constexpr uint32_t kFirstFloor = 0;
#endif

struct TagTable {
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  uint32_t cursor = 0;  // where the search for a free tag starts
  bool init = false;
  bool live[kTags];
  uint32_t floor[kTags];  // generation floor of the tag's next holder
};

TagTable g_tags;

}  // namespace

int tag_acquire(uint32_t *tag, uint32_t *floor) {
  TagTable &t = g_tags;
  pthread_mutex_lock(&t.mu);
  if (!t.init) {
    for (uint32_t i = 0; i < kTags; i++) {
      t.live[i] = false;
      t.floor[i] = kFirstFloor;
    }
    t.init = true;
  }
  int rc = WEFT_ENOMEM;
  for (uint32_t n = 0; n < kTags; n++) {
    const uint32_t i = (t.cursor + n) & kTagMask;
    if (t.live[i] || t.floor[i] > kGenMask + 1 - kTagReserve) continue;
    t.live[i] = true;
    t.cursor = (i + 1) & kTagMask;  // round robin: spread the generations used
    *tag = i;
    *floor = t.floor[i];
    rc = 0;
    break;
  }
  pthread_mutex_unlock(&t.mu);
  return rc;
}

void tag_release(uint32_t tag, uint32_t max_issued) {
  TagTable &t = g_tags;
  pthread_mutex_lock(&t.mu);
  const uint32_t next = max_issued + 1;
  if (next > t.floor[tag]) t.floor[tag] = next;
  t.live[tag] = false;
  pthread_mutex_unlock(&t.mu);
}

void tags_lock() { pthread_mutex_lock(&g_tags.mu); }
void tags_unlock() { pthread_mutex_unlock(&g_tags.mu); }

}  // namespace weft
