// timer.h -- a callback timer.
#pragma once

#include <cstdint>

#include "../capi/include/weft.h"

namespace weft {

enum TimerState : uint8_t { TM_FREE = 0, TM_ACTIVE = 1, TM_FIRING = 2 };

struct Timer {
  uint32_t gen;
  uint8_t state;  // TimerState
  uint32_t next;  // free list
  uint32_t seq;   // heap seq of the live arm, 0 = none
  int64_t repeat;
  weft_timer_cb cb;
  void *ud;
};

}  // namespace weft
