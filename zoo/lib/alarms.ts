// Shared by the zoo's alarm entries: telling the runtime's giving up on an alarm from a bug.

type Attempts = { alarmAttempts?: { retryCount: number; outcome: string }[] };

// The runtime gave up on the alarm: an attempt after six retries failed (or was reset) with
// no error of the object's own (`own`), as when storage is out longer than the retry
// schedule. Work left behind then is the platform's doing, not the entry's bug.
export function abandonedByRuntime(run: Attempts, own?: string): boolean {
  const attempts = run.alarmAttempts ?? [];
  return attempts.some((a) => a.retryCount >= 6 && a.outcome !== "ok" && a.outcome !== "running")
    && !(own && attempts.some((a) => a.outcome.includes(own)));
}
