//! The built-in JavaScript platform: the module an import of `cloudflare:workers` or
//! `node:*` gets, and the web platform's globals (`URL`, `TextEncoder`, streams, ...)
//! installed in every engine, with the Rust functions that do the real work behind them.

use rquickjs::function::Opt;
use rquickjs::{ArrayBuffer, Ctx, Function, Module, Object, TypedArray};
use std::sync::OnceLock;

/// The web platform's globals, one script per standard, with the globals each defines
/// (a path like `crypto.subtle` is a property of a global). A script runs the first time
/// one of its names is read (see `platform/lazy.js`): an object that never touches
/// streams does not pay for them when it starts. Scripts that build on others read their
/// globals, which loads those first.
const GLOBAL_SCRIPTS: &[(&str, &str, &[&str])] = &[
    (
        "dosim:platform/events.js",
        include_str!("platform/events.js"),
        &["Event", "CustomEvent", "EventTarget", "DOMException"],
    ),
    ("dosim:platform/encoding.js", include_str!("platform/encoding.js"), &["TextEncoder", "TextDecoder"]),
    ("dosim:platform/url.js", include_str!("platform/url.js"), &["URL", "URLSearchParams"]),
    ("dosim:platform/abort.js", include_str!("platform/abort.js"), &["AbortController", "AbortSignal"]),
    (
        "dosim:platform/crypto.js",
        include_str!("platform/crypto.js"),
        &["crypto", "crypto.subtle", "SubtleCrypto", "CryptoKey"],
    ),
    ("dosim:platform/blob.js", include_str!("platform/blob.js"), &["Blob", "File", "__dosimBlobBytes"]),
    (
        "dosim:platform/streams.js",
        include_str!("platform/streams.js"),
        &[
            "ReadableStream",
            "ReadableStreamDefaultReader",
            "ReadableStreamDefaultController",
            "WritableStream",
            "WritableStreamDefaultWriter",
            "WritableStreamDefaultController",
            "TransformStream",
            "IdentityTransformStream",
            "TextEncoderStream",
            "TextDecoderStream",
            "CountQueuingStrategy",
            "ByteLengthQueuingStrategy",
            "__dosimTakeAllNow",
        ],
    ),
    ("dosim:platform/formdata.js", include_str!("platform/formdata.js"), &["FormData", "__dosimForms"]),
    ("dosim:platform/fetch.js", include_str!("platform/fetch.js"), &["Headers", "Request", "Response"]),
    ("dosim:platform/buffer.js", include_str!("platform/node/buffer_global.js"), &["Buffer"]),
    ("dosim:platform/process.js", include_str!("platform/node/process_global.js"), &["process"]),
];

/// Defines the lazy globals (compiled with the scripts, run once per engine).
const LAZY: &str = include_str!("platform/lazy.js");

/// `cloudflare:workers`: the prelude's classes, plus what real code imports at top level.
const WORKERS: &str = include_str!("platform/workers.js");

/// Built-in modules by canonical name.
const MODULES: &[(&str, &str)] = &[
    ("cloudflare:workers", WORKERS),
    ("node:assert", include_str!("platform/node/assert.js")),
    ("node:assert/strict", include_str!("platform/node/assert_strict.js")),
    ("node:async_hooks", include_str!("platform/node/async_hooks.js")),
    ("node:buffer", include_str!("platform/node/buffer.js")),
    ("node:crypto", include_str!("platform/node/crypto.js")),
    ("node:events", include_str!("platform/node/events.js")),
    ("node:process", include_str!("platform/node/process.js")),
    ("node:timers", include_str!("platform/node/timers.js")),
    ("node:timers/promises", include_str!("platform/node/timers_promises.js")),
    ("node:url", include_str!("platform/node/url.js")),
    ("node:util", include_str!("platform/node/util.js")),
];

/// The name a built-in module is known by (`node:events` for `events` too, as under
/// `nodejs_compat`), or `None` if `spec` names no built-in module.
pub(crate) fn canonical_name(spec: &str) -> Option<&'static str> {
    let wanted = if spec.starts_with("node:") || spec.starts_with("cloudflare:") {
        spec.to_owned()
    } else {
        format!("node:{spec}")
    };
    MODULES.iter().map(|(name, _)| *name).find(|name| *name == wanted)
}

/// The helpers oxc's TypeScript transform imports for legacy decorators (`@Browsable()`
/// on a class, `@inject` on a parameter), with TypeScript's `__decorate` semantics: the
/// decorators apply last to first, each may return a replacement.
const DECORATE: &str = "export default function decorate(decorators, target, key, descriptor) {\n\
      const onClass = arguments.length < 3;\n\
      let result = onClass ? target : descriptor ?? Object.getOwnPropertyDescriptor(target, key);\n\
      for (let i = decorators.length - 1; i >= 0; i--) {\n\
        const d = decorators[i];\n\
        if (!d) continue;\n\
        result = (onClass ? d(result) : d(target, key, result)) || result;\n\
      }\n\
      if (!onClass && result) Object.defineProperty(target, key, result);\n\
      return result;\n\
    }\n";
const DECORATE_PARAM: &str =
    "export default function decorateParam(index, decorator) { return (target, key) => decorator(target, key, index); }\n";

/// Where oxc's transform imports its helpers from.
pub(crate) const HELPERS: &str = "@oxc-project/runtime/helpers/";

/// The source of built-in module `name` (`cloudflare:workers`, `node:assert`, `buffer`,
/// oxc's decorator helpers, ...).
pub(crate) fn module_source(name: &str) -> Option<&'static str> {
    match name.strip_prefix(HELPERS) {
        Some("decorate") => return Some(DECORATE),
        Some("decorateParam") => return Some(DECORATE_PARAM),
        Some(_) => return None,
        None => {}
    }
    let name = canonical_name(name)?;
    MODULES.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

/// `lazy.js` and the global scripts as bytecode, compiled once per process (as the
/// prelude is).
fn global_bytecode() -> &'static [Vec<u8>] {
    static BYTES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let compiled = rquickjs::Runtime::new().and_then(|rt| {
            let cx = rquickjs::Context::full(&rt)?;
            Ok(cx.with(|ctx| {
                std::iter::once(&("dosim:platform/lazy.js", LAZY, &[] as &[&str]))
                    .chain(GLOBAL_SCRIPTS)
                    .map(|(name, text, _)| {
                        Module::declare(ctx.clone(), *name, *text)
                            .and_then(|m| m.write(rquickjs::module::WriteOptions::default()))
                            .map_err(|e| format!("{name}: {}", crate::convert::exception_text(&ctx, e)))
                    })
                    .collect::<Result<Vec<_>, String>>()
            }))
        });
        match compiled {
            Ok(Ok(all)) => all,
            Ok(Err(text)) => panic!("dosim's JavaScript platform does not compile: {text}"),
            Err(e) => panic!("dosim could not start a JavaScript engine: {e}"),
        }
    })
}

/// The hidden global through which `node:async_hooks` asks which host task (event) is
/// running JavaScript: QuickJS has no async context, so a store follows the event.
const CURRENT_TASK: &str = "__dosimCurrentTask";
/// The hidden global holding the Rust functions the platform's scripts call.
const NATIVE: &str = "__dosimNative";

/// Installs the web platform's globals in `ctx` (after the prelude, whose `crypto` and
/// timers they extend). `current_task` says which host task is running JavaScript.
pub(crate) fn install_globals<'js>(ctx: &Ctx<'js>, current_task: impl Fn() -> u64 + 'static) -> rquickjs::Result<()> {
    let task = Function::new(ctx.clone(), move || current_task() as f64)?;
    let hidden = Object::new(ctx.clone())?;
    hidden.set("value", task)?;
    hidden.set("enumerable", false)?;
    let define: Function = ctx.globals().get::<_, Object>("Object")?.get("defineProperty")?;
    define.call::<_, ()>((ctx.globals(), CURRENT_TASK, hidden))?;
    // Hidden, and kept: `node:crypto` (loaded later, on import) hashes with it too.
    let native = Object::new(ctx.clone())?;
    native.set("value", native_functions(ctx)?)?;
    native.set("enumerable", false)?;
    define.call::<_, ()>((ctx.globals(), NATIVE, native))?;
    // SAFETY (both loads): bytecode written by this same QuickJS build (global_bytecode).
    let lazy = unsafe { Module::load(ctx.clone(), &global_bytecode()[0]) }?;
    let (lazy, done) = lazy.eval()?;
    done.finish::<()>()?;
    let install: Function = lazy.get("default")?;
    let load = Function::new(ctx.clone(), |ctx: Ctx<'js>, i: usize| -> rquickjs::Result<()> {
        let bytes = global_bytecode().get(i + 1).ok_or_else(|| rquickjs::Error::new_loading("platform script"))?;
        let module = unsafe { Module::load(ctx.clone(), bytes) }?;
        let (_, done) = module.eval()?;
        done.finish::<()>()
    })?;
    let provides: Vec<Vec<&str>> = GLOBAL_SCRIPTS.iter().map(|(_, _, names)| names.to_vec()).collect();
    install.call::<_, ()>((provides, load))?;
    Ok(())
}

/// The bytes of a `Uint8Array`, copied out before any JavaScript runs again.
fn bytes_of(array: &TypedArray<'_, u8>) -> Vec<u8> {
    // SAFETY: the slice is copied at once; no JavaScript runs while it is borrowed.
    unsafe { array.as_bytes() }.map(<[u8]>::to_vec).unwrap_or_default()
}

/// A URL's parts as `URL` exposes them, in the order `url.js` reads them.
fn url_parts(url: &url::Url) -> Vec<String> {
    use url::quirks as q;
    vec![
        q::href(url).to_owned(),
        q::origin(url),
        q::protocol(url).to_owned(),
        q::username(url).to_owned(),
        q::password(url).to_owned(),
        q::host(url).to_owned(),
        q::hostname(url).to_owned(),
        q::port(url).to_owned(),
        q::pathname(url).to_owned(),
        q::search(url).to_owned(),
        q::hash(url).to_owned(),
    ]
}

fn digest_of(algorithm: &str, data: &[u8]) -> Option<Vec<u8>> {
    use sha2::Digest;
    Some(match algorithm {
        "SHA-1" => sha1::Sha1::digest(data).to_vec(),
        "SHA-256" => sha2::Sha256::digest(data).to_vec(),
        "SHA-384" => sha2::Sha384::digest(data).to_vec(),
        "SHA-512" => sha2::Sha512::digest(data).to_vec(),
        "MD5" => md5::Md5::digest(data).to_vec(),
        _ => return None,
    })
}

fn hmac_of(algorithm: &str, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    use hmac::{Hmac, Mac};
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Vec<u8> {
        let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }
    Some(match algorithm {
        "SHA-1" => run::<Hmac<sha1::Sha1>>(key, data),
        "SHA-256" => run::<Hmac<sha2::Sha256>>(key, data),
        "SHA-384" => run::<Hmac<sha2::Sha384>>(key, data),
        "SHA-512" => run::<Hmac<sha2::Sha512>>(key, data),
        "MD5" => run::<Hmac<md5::Md5>>(key, data),
        _ => return None,
    })
}

/// The functions the platform's scripts call (as the hidden global `__dosimNative`).
fn native_functions<'js>(ctx: &Ctx<'js>) -> rquickjs::Result<Object<'js>> {
    let native = Object::new(ctx.clone())?;
    // URL: parts of `input` (against `base`), or null if either does not parse.
    native.set(
        "urlParse",
        Function::new(ctx.clone(), |input: String, base: Opt<String>| -> Option<Vec<String>> {
            let parsed = match base.0 {
                Some(base) => url::Url::parse(&base).ok()?.join(&input),
                None => url::Url::parse(&input),
            };
            parsed.ok().as_ref().map(url_parts)
        })?,
    )?;
    // URL setters: the parts after setting `field` of `href` to `value` (unchanged parts
    // when the Standard says the setter does nothing), or null if `href` must throw.
    native.set(
        "urlSet",
        Function::new(ctx.clone(), |href: String, field: String, value: String| -> Option<Vec<String>> {
            use url::quirks as q;
            let mut url = url::Url::parse(&href).ok()?;
            match field.as_str() {
                "href" => q::set_href(&mut url, &value).ok()?,
                "protocol" => drop(q::set_protocol(&mut url, &value)),
                "username" => drop(q::set_username(&mut url, &value)),
                "password" => drop(q::set_password(&mut url, &value)),
                "host" => drop(q::set_host(&mut url, &value)),
                "hostname" => drop(q::set_hostname(&mut url, &value)),
                "port" => drop(q::set_port(&mut url, &value)),
                "pathname" => q::set_pathname(&mut url, &value),
                "search" => q::set_search(&mut url, &value),
                "hash" => q::set_hash(&mut url, &value),
                _ => return None,
            }
            Some(url_parts(&url))
        })?,
    )?;
    native.set(
        "formParse",
        Function::new(ctx.clone(), |text: String| -> Vec<Vec<String>> {
            form_urlencoded::parse(text.as_bytes()).map(|(k, v)| vec![k.into_owned(), v.into_owned()]).collect()
        })?,
    )?;
    native.set(
        "formSerialize",
        Function::new(ctx.clone(), |pairs: Vec<Vec<String>>| -> String {
            let mut out = form_urlencoded::Serializer::new(String::new());
            for pair in &pairs {
                if let [k, v] = pair.as_slice() {
                    out.append_pair(k, v);
                }
            }
            out.finish()
        })?,
    )?;
    native.set(
        "utf8Encode",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, text: String| TypedArray::<u8>::new(ctx, text.into_bytes()))?,
    )?;
    // UTF-8 to text: replacement characters for bad bytes, or null for them when `fatal`.
    native.set(
        "utf8Decode",
        Function::new(ctx.clone(), |bytes: TypedArray<'js, u8>, fatal: bool| -> Option<String> {
            let bytes = bytes_of(&bytes);
            if fatal {
                String::from_utf8(bytes).ok()
            } else {
                Some(String::from_utf8_lossy(&bytes).into_owned())
            }
        })?,
    )?;
    native.set(
        "digest",
        Function::new(ctx.clone(), |ctx: Ctx<'js>, algorithm: String, data: TypedArray<'js, u8>| {
            digest_of(&algorithm, &bytes_of(&data)).map(|d| ArrayBuffer::new(ctx, d)).transpose()
        })?,
    )?;
    native.set(
        "hmac",
        Function::new(
            ctx.clone(),
            |ctx: Ctx<'js>, algorithm: String, key: TypedArray<'js, u8>, data: TypedArray<'js, u8>| {
                hmac_of(&algorithm, &bytes_of(&key), &bytes_of(&data)).map(|d| ArrayBuffer::new(ctx, d)).transpose()
            },
        )?,
    )?;
    Ok(native)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_modules_are_found_with_or_without_their_prefix() {
        assert_eq!(canonical_name("events"), Some("node:events"));
        assert_eq!(canonical_name("node:events"), Some("node:events"));
        assert_eq!(canonical_name("cloudflare:workers"), Some("cloudflare:workers"));
        assert_eq!(canonical_name("left-pad"), None);
        assert_eq!(canonical_name("cloudflare:sockets"), None);
        assert!(module_source("node:assert").is_some());
    }

    #[test]
    fn digests_match_known_answers() {
        let hex = |b: Vec<u8>| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(hex(digest_of("SHA-1", b"abc").unwrap()), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            hex(digest_of("SHA-256", b"abc").unwrap()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // RFC 4231 test case 2.
        assert_eq!(
            hex(hmac_of("SHA-256", b"Jefe", b"what do ya want for nothing?").unwrap()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(digest_of("SHA-3", b"abc"), None);
    }
}
