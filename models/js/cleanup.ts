// Cleanup, from the reference document of Durable Object patterns, code unchanged: the method
// wrapped in `class Cleanup` (the Rust port's name), formatted (prettier), a line break after
// its `//` comment. `CleanupHarness` (put, arm, alarm) is not reference code.
export class Cleanup extends DurableObject {
  async cleanup() {
    await this.ctx.storage.deleteAlarm(); // Separate from deleteAll
    await this.ctx.storage.deleteAll();
  }
}
// Not reference code: what the Rust port's class adds so there is something to clean up
// (store a key, arm the alarm and answer its time, an alarm handler that does nothing).
export class CleanupHarness extends Cleanup {
  async put(key: string, value: string) {
    await this.ctx.storage.put(key, value);
  }
  async arm(inMs: number) {
    const at = Date.now() + inMs;
    await this.ctx.storage.setAlarm(at);
    return at;
  }
  async alarm() {}
}
