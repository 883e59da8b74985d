//! The In-Memory Caching pattern (`UserCache`): users are read through a `Map` in the
//! instance's memory, and an update writes the cache first, then storage.
//!
//! ```ts
//! export class UserCache extends DurableObject {
//!   cache = new Map();
//!   async getUser(id: string): Promise<User | undefined> {
//!     if (this.cache.has(id)) {
//!       const cached = this.cache.get(id);
//!       if (cached) return cached;
//!     }
//!     const user = await this.ctx.storage.get(`user:${id}`);
//!     if (user) this.cache.set(id, user);
//!     return user;
//!   }
//!   async updateUser(id: string, data: Partial<User>) {
//!     const updated = { ...await this.getUser(id), ...data };
//!     this.cache.set(id, updated);
//!     await this.ctx.storage.put(`user:${id}`, updated);
//!     return updated;
//!   }
//! }
//! ```
//!
//! Right as written, because of both gates. The input gate stays closed across the
//! storage `get` and `put` awaits, so no other call runs between reading a user and
//! caching or replacing it (a stale read cannot overwrite a newer cache entry). The cache
//! does hand out a value before `put` is durable, to the updater and to any reader, but the
//! output gate holds every reply, a reader's too, until the writes made before it are
//! durable; a crash first fails those replies and takes the cache with the instance, so no
//! caller ever sees a value that storage then loses. There is no fixed port.

use dosim_sim::{DurableObject, Env, Result, State};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// A user: field name to value (`Partial<User>` is a subset of the fields).
pub type User = BTreeMap<String, String>;

/// Calls of the user cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserCacheCall {
    /// `getUser(id)`: the user, or `undefined` (JSON `null`).
    GetUser { id: String },
    /// `updateUser(id, data)`: merges `data` into the user and returns the result.
    UpdateUser { id: String, data: User },
}

/// The In-Memory Caching pattern.
pub struct UserCache {
    state: State,
    cache: RefCell<BTreeMap<String, User>>,
}

impl UserCache {
    async fn get_user(&self, id: &str) -> Result<Option<User>> {
        // `has`, then `if (cached)`: a cached user is an object, and objects are truthy.
        if let Some(cached) = self.cache.borrow().get(id) {
            return Ok(Some(cached.clone()));
        }
        let user: Option<User> = self.state.storage().get(&format!("user:{id}")).await?;
        if let Some(u) = &user {
            self.cache.borrow_mut().insert(id.to_owned(), u.clone());
        }
        Ok(user)
    }

    async fn update_user(&self, id: &str, data: User) -> Result<User> {
        // `{ ...undefined, ...data }` is just `data`.
        let mut updated = self.get_user(id).await?.unwrap_or_default();
        updated.extend(data);
        self.cache.borrow_mut().insert(id.to_owned(), updated.clone());
        self.state.storage().put(&format!("user:{id}"), &updated).await?;
        Ok(updated)
    }
}

#[async_trait::async_trait(?Send)]
impl DurableObject for UserCache {
    type Request = UserCacheCall;
    type Response = Option<User>;

    fn new(state: State, _env: Env) -> Self {
        UserCache { state, cache: RefCell::default() }
    }

    async fn call(&self, request: UserCacheCall) -> Result<Option<User>> {
        match request {
            UserCacheCall::GetUser { id } => self.get_user(&id).await,
            UserCacheCall::UpdateUser { id, data } => self.update_user(&id, data).await.map(Some),
        }
    }
}
