// In-Memory Caching, from the reference document of Durable Object patterns, code unchanged:
// only formatted (prettier).
export class UserCache extends DurableObject {
  cache = new Map();
  async getUser(id: string): Promise {
    if (this.cache.has(id)) {
      const cached = this.cache.get(id);
      if (cached) return cached;
    }
    const user = await this.ctx.storage.get(`user:${id}`);
    if (user) this.cache.set(id, user);
    return user;
  }
  async updateUser(id: string, data: Partial) {
    const updated = { ...(await this.getUser(id)), ...data };
    this.cache.set(id, updated);
    await this.ctx.storage.put(`user:${id}`, updated);
    return updated;
  }
}
