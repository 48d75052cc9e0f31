// test_id_reuse.cc -- ids of a freed loop used on a later loop.
//
// weft.h: an id "of another loop" gives WEFT_ESTALE. Ids once carried a
// 12-bit loop tag from a global counter that wrapped after 4096 loops, and
// the loop made 4096 creations after another handed out the same ids (an id
// kept from the freed loop named a live handle of the new one, and
// weft_task_cancel, weft_task_release, weft_timer_stop... acted on it).
// Now live loops never share a tag and a reused tag starts above its earlier
// holders' generations (core/tags.cc; tests/test_id_life.cc goes further).
#include <gtest/gtest.h>
#include <weft.h>

namespace {

int finish(weft_loop_t *, weft_task_t, int status, void *) { return status; }

// Same tag, 4096 creations later: the new loop's first ids differ.
TEST(IdReuse, IdOfALoopFreed4096LoopsAgoIsStale) {
  weft_loop_t *a = nullptr;
  ASSERT_EQ(0, weft_loop_new(&a));
  weft_task_t old_id = 0;
  ASSERT_EQ(0, weft_task_spawn(a, finish, nullptr, &old_id));
  ASSERT_EQ(0, weft_loop_free(a));
  for (int i = 0; i < 4095; i++) {
    weft_loop_t *x = nullptr;
    ASSERT_EQ(0, weft_loop_new(&x));
    ASSERT_EQ(0, weft_loop_free(x));
  }
  weft_loop_t *b = nullptr;
  ASSERT_EQ(0, weft_loop_new(&b));
  weft_task_t id = 0;
  ASSERT_EQ(0, weft_task_spawn(b, finish, nullptr, &id));
  EXPECT_NE(old_id, id) << "the new loop handed out an id of the freed one";
  EXPECT_EQ(WEFT_ESTALE, weft_task_cancel(b, old_id));
  EXPECT_EQ(WEFT_ESTALE, weft_task_release(b, old_id));
  EXPECT_EQ(WEFT_TASK_READY, weft_task_state(b, id));
  EXPECT_EQ(0, weft_loop_free(b));
}

// What holds today: a loop fewer than 4096 creations later refuses them.
TEST(IdReuse, IdOfARecentlyFreedLoopIsStale) {
  weft_loop_t *a = nullptr;
  ASSERT_EQ(0, weft_loop_new(&a));
  weft_task_t old_id = 0;
  ASSERT_EQ(0, weft_task_spawn(a, finish, nullptr, &old_id));
  ASSERT_EQ(0, weft_loop_free(a));
  for (int i = 0; i < 100; i++) {
    weft_loop_t *x = nullptr;
    ASSERT_EQ(0, weft_loop_new(&x));
    ASSERT_EQ(0, weft_loop_free(x));
  }
  weft_loop_t *b = nullptr;
  ASSERT_EQ(0, weft_loop_new(&b));
  weft_task_t id = 0;
  ASSERT_EQ(0, weft_task_spawn(b, finish, nullptr, &id));
  EXPECT_EQ(WEFT_ESTALE, weft_task_cancel(b, old_id));
  EXPECT_EQ(WEFT_ESTALE, weft_task_release(b, old_id));
  EXPECT_EQ(WEFT_TASK_READY, weft_task_state(b, id));
  EXPECT_EQ(0, weft_loop_free(b));
}

}  // namespace
