//! Parent-Child Coordination: a `Workspace` creates each document as a child object
//! (`Document`, reached through the `DOCUMENT` namespace), initializes it, then records it
//! in its own `documents` table. Ported faithful, patched and fixed.
//!
//! The original, formatted:
//!
//! ```ts
//! // Parent DO coordinates children
//! export class Workspace extends DurableObject {
//!   async createDocument(name: string): Promise<string> {
//!     const docId = crypto.randomUUID();
//!     const childId = this.env.DOCUMENT.idFromName(`${this.ctx.id.toString()}:${docId}`);
//!     const childStub = this.env.DOCUMENT.get(childId);
//!     await childStub.initialize(name);
//!     // Track child in parent storage
//!     this.sql.exec('INSERT INTO documents (id, name, created) VALUES (?, ?, ?)', docId, name, Date.now());
//!     return docId;
//!   }
//!
//!   async listDocuments(): Promise<string[]> {
//!     return this.sql.exec('SELECT id FROM documents').toArray().map(r => r.id);
//!   }
//! }
//!
//! // Child DO
//! export class Document extends DurableObject {
//!   async initialize(name: string) {
//!     this.sql.exec('CREATE TABLE IF NOT EXISTS content(key TEXT PRIMARY KEY, value TEXT)');
//!     this.sql.exec('INSERT INTO content VALUES (?, ?)', 'name', name);
//!   }
//! }
//! ```
//!
//! What is wrong:
//! - Neither class assigns `this.sql`: `initialize` throws `TypeError: Cannot read
//!   properties of undefined (reading 'exec')`, which `createDocument` rethrows, and
//!   `listDocuments` throws the same. Nothing creates `documents` either.
//! - With those patched ([`Patched`](crate::js::Patched)), the child is initialized before
//!   the parent records it, so a parent that crashes (or loses the child's reply) in
//!   between leaves an orphan child no listing ever reaches; and a client that retries a
//!   `createDocument` whose reply was lost gets a second document, since every attempt draws
//!   a new id. (The order does keep every listed document initialized.)
//!
//! The fix ([`FixedWorkspace`], [`FixedDocument`]): `createDocument` takes an idempotency
//! key, records the document as not ready *before* calling the child (an outgoing call
//! waits for the output gate, so the record is durable first), then marks it ready; a
//! retry with the same key resumes or returns the first attempt's id. An alarm finishes
//! every record left not ready, so no initialized child stays unlisted. `initialize` is
//! idempotent, and `listDocuments` lists ready documents only.

use crate::js::{random_uuid, undefined_property, Faithful, Port};
use dosim_sim::{async_trait, AlarmInfo, DurableObject, Env, Namespace, Result, Row, Sql, SqlValue, State, Stub};
use serde::{Deserialize, Serialize};
use std::marker::PhantomData;

/// The binding the workspace reaches its documents through.
pub const DOCUMENT_BINDING: &str = "DOCUMENT";

/// Calls a document understands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentCall {
    /// `initialize(name)`.
    Initialize {
        /// The document's name.
        name: String,
    },
}

/// Calls the original workspace understands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkspaceCall {
    /// `createDocument(name)`: the new document's id.
    CreateDocument {
        /// The document's name.
        name: String,
    },
    /// `listDocuments()`: the ids of the documents.
    ListDocuments,
}

/// What a workspace answers: an id (JSON string) or a list of ids (JSON array).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum WorkspaceReply {
    /// `createDocument`'s id.
    Created(String),
    /// `listDocuments`' ids.
    Listed(Vec<String>),
}

fn text(row: &Row, column: &str) -> String {
    row.get(column).and_then(SqlValue::as_str).unwrap_or_default().to_owned()
}

/// The original `Workspace`, or the patched one (`this.sql` assigned, `documents` created).
pub struct Workspace<P: Port = Faithful> {
    state: State,
    env: Env,
    /// `this.sql`: never assigned by the original.
    sql: Option<Sql>,
    _port: PhantomData<P>,
}

impl<P: Port> Workspace<P> {
    fn sql(&self) -> Result<&Sql> {
        self.sql.as_ref().ok_or_else(|| undefined_property("exec"))
    }
}

#[async_trait(?Send)]
impl<P: Port> DurableObject for Workspace<P> {
    type Request = WorkspaceCall;
    type Response = WorkspaceReply;

    fn new(state: State, env: Env) -> Self {
        let sql = P::PATCHED.then(|| {
            let sql = state.storage().sql();
            // Patch: the table `createDocument` records documents in.
            let _ =
                sql.exec("CREATE TABLE IF NOT EXISTS documents (id TEXT PRIMARY KEY, name TEXT, created INTEGER)", &[]);
            sql
        });
        Workspace { state, env, sql, _port: PhantomData }
    }

    async fn call(&self, request: WorkspaceCall) -> Result<WorkspaceReply> {
        match request {
            WorkspaceCall::CreateDocument { name } => {
                // `this.env.DOCUMENT`: an unbound name would be undefined too.
                let documents: Namespace<Document<P>> =
                    self.env.namespace(DOCUMENT_BINDING).ok_or_else(|| undefined_property("idFromName"))?;
                let doc_id = random_uuid(&documents.new_unique_id());
                let child_id = documents.id_from_name(&format!("{}:{doc_id}", self.state.id().hex()));
                let child = documents.get(&child_id);
                // Not a storage await: other events may enter the workspace meanwhile.
                child.call(DocumentCall::Initialize { name: name.clone() }).await?;
                let now = SqlValue::Real(self.state.now().as_millis() as f64);
                self.sql()?.exec(
                    "INSERT INTO documents (id, name, created) VALUES (?, ?, ?)",
                    &[doc_id.as_str().into(), name.into(), now],
                )?;
                Ok(WorkspaceReply::Created(doc_id))
            }
            WorkspaceCall::ListDocuments => {
                let rows = self.sql()?.exec("SELECT id FROM documents", &[])?.to_array();
                Ok(WorkspaceReply::Listed(rows.iter().map(|r| text(r, "id")).collect()))
            }
        }
    }
}

/// The original `Document`, or the patched one (`this.sql` assigned).
pub struct Document<P: Port = Faithful> {
    /// `this.sql`: never assigned by the original.
    sql: Option<Sql>,
    _port: PhantomData<P>,
}

#[async_trait(?Send)]
impl<P: Port> DurableObject for Document<P> {
    type Request = DocumentCall;
    type Response = ();

    fn new(state: State, _env: Env) -> Self {
        Document { sql: P::PATCHED.then(|| state.storage().sql()), _port: PhantomData }
    }

    async fn call(&self, request: DocumentCall) -> Result<()> {
        let DocumentCall::Initialize { name } = request;
        let sql = self.sql.as_ref().ok_or_else(|| undefined_property("exec"))?;
        sql.exec("CREATE TABLE IF NOT EXISTS content(key TEXT PRIMARY KEY, value TEXT)", &[])?;
        sql.exec("INSERT INTO content VALUES (?, ?)", &["name".into(), name.into()])?;
        Ok(())
    }
}

/// Calls the fixed workspace understands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FixedWorkspaceCall {
    /// `createDocument(name, requestId)`: a retry with the same `request_id` gets the same
    /// document, never a second one.
    CreateDocument {
        /// The document's name.
        name: String,
        /// The caller's idempotency key.
        request_id: String,
    },
    /// `listDocuments()`: the ids of the documents that are ready.
    ListDocuments,
}

/// How long after recording a document the alarm checks that it was finished, and how
/// soon it tries again when a child could not be reached.
pub const FINISH_AFTER_MS: u64 = 2000;

/// The fixed workspace.
pub struct FixedWorkspace {
    state: State,
    env: Env,
    sql: Sql,
}

impl FixedWorkspace {
    fn child(&self, doc_id: &str) -> Result<Stub<FixedDocument>> {
        let documents: Namespace<FixedDocument> =
            self.env.namespace(DOCUMENT_BINDING).ok_or_else(|| undefined_property("idFromName"))?;
        Ok(documents.get(&documents.id_from_name(&format!("{}:{doc_id}", self.state.id().hex()))))
    }

    /// Initializes the child (idempotent), then marks the document ready.
    async fn finish(&self, doc_id: &str, name: &str) -> Result<()> {
        self.child(doc_id)?.call(DocumentCall::Initialize { name: name.to_owned() }).await?;
        self.sql.exec("UPDATE documents SET ready = 1 WHERE id = ?", &[doc_id.into()])?;
        Ok(())
    }
}

#[async_trait(?Send)]
impl DurableObject for FixedWorkspace {
    type Request = FixedWorkspaceCall;
    type Response = WorkspaceReply;

    fn new(state: State, env: Env) -> Self {
        let sql = state.storage().sql();
        let _ = sql.exec(
            "CREATE TABLE IF NOT EXISTS documents (id TEXT PRIMARY KEY, name TEXT NOT NULL, created INTEGER NOT NULL, \
             request_id TEXT NOT NULL UNIQUE, ready INTEGER NOT NULL DEFAULT 0)",
            &[],
        );
        FixedWorkspace { state, env, sql }
    }

    async fn call(&self, request: FixedWorkspaceCall) -> Result<WorkspaceReply> {
        match request {
            FixedWorkspaceCall::CreateDocument { name, request_id } => {
                let earlier = self
                    .sql
                    .exec("SELECT id, name, ready FROM documents WHERE request_id = ?", &[request_id.as_str().into()])?
                    .next_row();
                // Changed: a retry finds its first attempt and resumes it (or returns it).
                let (doc_id, name) = match earlier {
                    Some(row) if row.get("ready").and_then(SqlValue::as_i64) == Some(1) => {
                        return Ok(WorkspaceReply::Created(text(&row, "id")));
                    }
                    Some(row) => (text(&row, "id"), text(&row, "name")),
                    None => {
                        let documents: Namespace<FixedDocument> =
                            self.env.namespace(DOCUMENT_BINDING).ok_or_else(|| undefined_property("idFromName"))?;
                        let doc_id = random_uuid(&documents.new_unique_id());
                        let now = SqlValue::Real(self.state.now().as_millis() as f64);
                        // Changed: recorded (not ready) before the child hears of it.
                        self.sql.exec(
                            "INSERT INTO documents (id, name, created, request_id) VALUES (?, ?, ?, ?)",
                            &[doc_id.as_str().into(), name.as_str().into(), now, request_id.into()],
                        )?;
                        (doc_id, name)
                    }
                };
                // Changed: if this call dies from here on, the alarm finishes the document.
                let storage = self.state.storage();
                if storage.get_alarm().await?.is_none() {
                    storage.set_alarm(self.state.now().as_millis() + FINISH_AFTER_MS).await?;
                }
                self.finish(&doc_id, &name).await?;
                Ok(WorkspaceReply::Created(doc_id))
            }
            FixedWorkspaceCall::ListDocuments => {
                let rows =
                    self.sql.exec("SELECT id FROM documents WHERE ready = 1 ORDER BY created, id", &[])?.to_array();
                Ok(WorkspaceReply::Listed(rows.iter().map(|r| text(r, "id")).collect()))
            }
        }
    }

    async fn alarm(&self, _info: AlarmInfo) -> Result<()> {
        let rows =
            self.sql.exec("SELECT id, name FROM documents WHERE ready = 0 ORDER BY created, id", &[])?.to_array();
        let mut unfinished = false;
        for row in rows {
            // A child that cannot be reached now is tried again by the next alarm.
            unfinished |= self.finish(&text(&row, "id"), &text(&row, "name")).await.is_err();
        }
        // Re-armed here rather than failed: the runtime abandons an alarm after 6 failed
        // retries, and a document must not stay unfinished forever.
        if unfinished {
            self.state.storage().set_alarm(self.state.now().as_millis() + FINISH_AFTER_MS).await?;
        }
        Ok(())
    }
}

/// The fixed document: `initialize` may run any number of times.
pub struct FixedDocument {
    sql: Sql,
}

#[async_trait(?Send)]
impl DurableObject for FixedDocument {
    type Request = DocumentCall;
    type Response = ();

    fn new(state: State, _env: Env) -> Self {
        FixedDocument { sql: state.storage().sql() }
    }

    async fn call(&self, request: DocumentCall) -> Result<()> {
        let DocumentCall::Initialize { name } = request;
        self.sql.exec("CREATE TABLE IF NOT EXISTS content(key TEXT PRIMARY KEY, value TEXT)", &[])?;
        // Changed: a second initialize (a retry, or the alarm finishing the document)
        // keeps the first one's row instead of failing on the primary key.
        self.sql
            .exec("INSERT INTO content VALUES (?, ?) ON CONFLICT(key) DO NOTHING", &["name".into(), name.into()])?;
        Ok(())
    }
}
