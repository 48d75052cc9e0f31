package dev.weft;

/**
 * A snapshot of a loop's counters ({@link Loop#stats()}). Gauges are the value
 * at the call; totals count since the loop was created. Read while the loop
 * runs, each value is exact but the set is not one consistent snapshot.
 *
 * @param iterations total loop iterations run
 * @param tasksAlive gauge: tasks not yet finished
 * @param tasksReady gauge: tasks queued to run a step
 * @param timersActive gauge: timers started and not stopped or fired
 * @param fdWatchesActive gauge: fd watches started and not stopped
 * @param workQueued gauge: pool work waiting for a thread
 * @param workRunning gauge: pool work executing now
 * @param workNanos total ns pool threads spent in work
 * @param slowCallbacks total callbacks and steps slower than the slow-callback threshold
 * @param posts total posted callbacks run
 */
public record LoopStats(
    long iterations,
    long tasksAlive,
    long tasksReady,
    long timersActive,
    long fdWatchesActive,
    long workQueued,
    long workRunning,
    long workNanos,
    long slowCallbacks,
    long posts) {}
