// y-partyserver's YServer (unmodified): a shared Yjs document whose state the class saves
// to storage (onSave) and loads after a restart (onLoad); clients edit it by RPC.
import { YServer } from "y-partyserver";
import * as Y from "yjs";

export class Notes extends YServer {
  async onLoad(): Promise<void> {
    const saved = await this.ctx.storage.get<Uint8Array>("doc");
    if (saved) Y.applyUpdate(this.document, saved);
  }

  async onSave(): Promise<void> {
    await this.ctx.storage.put("doc", Y.encodeStateAsUpdate(this.document));
  }

  async append(word: string): Promise<number> {
    // partyserver runs onStart (and so onLoad) for fetch and WebSocket entry points; an
    // RPC method must ask for it, as partyserver's getServerByName does with setName().
    await this.setName(this.ctx.id.name ?? "notes");
    const list = this.document.getArray<string>("words");
    list.push([word]);
    await this.onSave();
    return list.length;
  }
}

// The document never shrinks: each acknowledged append saw more words than the one before it.
export function invariant(run: { history: { index: number; method: string; ok: boolean | null; value: number; completedAt: number }[] }) {
  const done = run.history.filter((c) => c.ok === true).sort((a, b) => a.completedAt - b.completedAt);
  const bad: string[] = [];
  for (let i = 1; i < done.length; i++) {
    if (done[i].value < done[i - 1].value) bad.push(`append #${done[i].index} saw ${done[i].value} words after #${done[i - 1].index} saw ${done[i - 1].value}`);
  }
  return bad;
}
