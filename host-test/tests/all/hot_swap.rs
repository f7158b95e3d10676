//! Hot swap under load: the plugin file is replaced while events flow on several threads. No
//! event fails or is lost, each report names the version that served it, and a broken file is
//! rejected while the old version keeps serving.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use destination_host::{
    CallReport, Limits, LoadErrorKind, PluginSlot, Runtime, RuntimeOptions, SwapEvent, Tenant,
    Transport, watch, watch_polling,
};
use host_test::transports::MockTransport;
use mock_zendesk::MockZendesk;

const V1: &str = env!("ZENDESK_WASM");
const V2: &str = env!("ZENDESK_SWAP_WASM");

fn runtime() -> Arc<Runtime> {
    static RUNTIME: OnceLock<Arc<Runtime>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| Arc::new(Runtime::new(RuntimeOptions::default()).expect("runtime")))
        .clone()
}

fn v1_version() -> String {
    runtime()
        .load_plugin_file(Path::new(V1))
        .expect("v1 loads")
        .version()
        .to_string()
}

/// Replaces `target` the recommended way: write a temp file next to it, then rename.
fn replace_atomically(target: &Path, bytes: &[u8]) {
    let temp = target.with_extension("wasm.tmp");
    std::fs::write(&temp, bytes).expect("write temp");
    std::fs::rename(&temp, target).expect("rename");
}

fn next_event(events: &Receiver<SwapEvent>) -> SwapEvent {
    events
        .recv_timeout(Duration::from_secs(10))
        .expect("the watcher reported within 10 s")
}

fn tenant(i: usize, transport: Arc<dyn Transport>) -> Tenant {
    let config =
        format!(r#"{{"subdomain":"acct{i}","email":"admin@example.com","apiToken":"t0k"}}"#);
    host_test::zendesk_tenant(format!("tenant-{i}"), config, Limits::default(), transport)
}

fn identify(worker: usize, n: usize) -> String {
    format!(
        r#"{{"type":"identify","userId":"w{worker}-{n}","traits":{{"name":"User {n}","email":"w{worker}-{n}@example.com"}}}}"#
    )
}

#[test]
fn events_keep_flowing_while_the_plugin_file_is_replaced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path: PathBuf = dir.path().join("zendesk.wasm");
    let v1_bytes = std::fs::read(V1).expect("v1");
    let v2_bytes = std::fs::read(V2).expect("v2");
    std::fs::write(&path, &v1_bytes).expect("install v1");

    let runtime = runtime();
    let slot = Arc::new(PluginSlot::new(
        runtime.load_plugin_file(&path).expect("v1"),
    ));
    let v1 = slot.current().version().to_string();
    let (sender, swaps) = mpsc::channel();
    let _watcher = watch(runtime.clone(), slot.clone(), &path, move |event| {
        let _ = sender.send(event);
    })
    .expect("the watch starts");

    let mock = MockZendesk::new();
    let transport: Arc<dyn Transport> = Arc::new(MockTransport::new(mock.clone()));
    let running = AtomicBool::new(true);
    let workers = 3;
    let reports: Vec<Vec<CallReport>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let (runtime, slot, tenant, running) =
                    (&runtime, &slot, tenant(w, transport.clone()), &running);
                scope.spawn(move || {
                    let mut reports = Vec::new();
                    while running.load(Ordering::Relaxed) {
                        let plugin = slot.current();
                        reports.push(runtime.transform(
                            &plugin,
                            &tenant,
                            &identify(w, reports.len()),
                        ));
                    }
                    reports
                })
            })
            .collect();

        std::thread::sleep(Duration::from_millis(300));
        replace_atomically(&path, &v2_bytes);
        let SwapEvent::Swapped(report) = next_event(&swaps) else {
            panic!("v2 was not swapped in");
        };
        assert_eq!(
            (report.from_version.as_str(), report.to_version.as_str()),
            (v1.as_str(), v2_version())
        );

        std::thread::sleep(Duration::from_millis(300));
        replace_atomically(&path, &v1_bytes[..v1_bytes.len() / 2]);
        let SwapEvent::Rejected { reason, .. } = next_event(&swaps) else {
            panic!("the truncated file was not rejected");
        };
        assert!(
            reason.contains("not a valid WebAssembly component"),
            "{reason}"
        );
        assert_eq!(slot.current().version(), v2_version(), "v2 keeps serving");

        std::thread::sleep(Duration::from_millis(300));
        replace_atomically(&path, &v1_bytes);
        let SwapEvent::Swapped(report) = next_event(&swaps) else {
            panic!("v1 was not swapped back in");
        };
        assert_eq!(report.to_version, v1);

        std::thread::sleep(Duration::from_millis(300));
        running.store(false, Ordering::Relaxed);
        handles
            .into_iter()
            .map(|h| h.join().expect("worker"))
            .collect()
    });

    for (w, reports) in reports.iter().enumerate() {
        let versions: Vec<&str> = reports.iter().map(|r| r.plugin_version.as_str()).collect();
        // v1, then v2, then v1 again: at most two changes, and both versions served.
        let changes = versions
            .windows(2)
            .filter(|pair| pair[0] != pair[1])
            .count();
        assert!(changes <= 2, "worker {w} flip-flopped: {changes} changes");
        assert!(versions.contains(&v1.as_str()) && versions.contains(&v2_version()));
        let account = mock.account(&format!("acct{w}"));
        for (n, report) in reports.iter().enumerate() {
            assert!(
                report.result.is_ok(),
                "worker {w} event {n}: {:?}",
                report.result
            );
            let email = format!("w{w}-{n}@example.com");
            assert!(account.user_by_email(&email).is_some(), "{email} was lost");
        }
        assert_eq!(
            account.users.len(),
            reports.len(),
            "worker {w}: one user per event"
        );
    }
}

type OnEvent = Box<dyn Fn(SwapEvent) + Send + Sync>;

/// v1 installed in a temp dir and watched by `start` (`watch` or `watch_polling`).
struct Watched {
    _dir: tempfile::TempDir,
    path: PathBuf,
    slot: Arc<PluginSlot>,
    swaps: Receiver<SwapEvent>,
    handle: destination_host::WatchHandle,
}

impl Watched {
    fn start(
        start: impl FnOnce(
            Arc<Runtime>,
            Arc<PluginSlot>,
            PathBuf,
            OnEvent,
        )
            -> Result<destination_host::WatchHandle, destination_host::HostError>,
    ) -> Watched {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("zendesk.wasm");
        std::fs::write(&path, std::fs::read(V1).expect("v1")).expect("install v1");
        let runtime = runtime();
        let slot = Arc::new(PluginSlot::new(
            runtime.load_plugin_file(&path).expect("v1"),
        ));
        let (sender, swaps) = mpsc::channel();
        let on_event: OnEvent = Box::new(move |event| {
            let _ = sender.send(event);
        });
        let handle =
            start(runtime, slot.clone(), path.clone(), on_event).expect("the watch starts");
        Watched {
            _dir: dir,
            path,
            slot,
            swaps,
            handle,
        }
    }
}

/// The swap build's version: v1's with `-swap` (see build.rs).
fn v2_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| format!("{}-swap", v1_version()))
}

#[test]
fn a_file_written_in_pieces_is_loaded_once_complete() {
    let watched = Watched::start(watch);
    let (path, swaps, slot) = (&watched.path, &watched.swaps, &watched.slot);

    // A non-atomic writer: truncate, then write in chunks with pauses shorter than the debounce.
    let v2 = std::fs::read(V2).expect("v2");
    std::thread::sleep(Duration::from_millis(150));
    {
        use std::io::Write;
        let mut file = std::fs::File::create(path).expect("open for writing");
        for chunk in v2.chunks(v2.len() / 4 + 1) {
            file.write_all(chunk).expect("write chunk");
            file.flush().expect("flush");
            std::thread::sleep(Duration::from_millis(60));
        }
    }
    match next_event(swaps) {
        SwapEvent::Swapped(report) => assert_eq!(report.to_version, v2_version()),
        SwapEvent::Rejected { reason, .. } => panic!("half-written file was loaded: {reason}"),
    }
    assert!(
        swaps.recv_timeout(Duration::from_millis(500)).is_err(),
        "exactly one reload"
    );
    assert_eq!(slot.current().version(), v2_version());
}

#[test]
fn broken_or_incompatible_plugins_are_rejected_and_the_old_one_keeps_serving() {
    let runtime = runtime();
    let slot = PluginSlot::new(runtime.load_plugin_file(Path::new(V1)).expect("v1"));
    let v1 = slot.current().version().to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let v1_bytes = std::fs::read(V1).expect("v1");

    let cases: Vec<(&str, Vec<u8>, LoadErrorKind, &str)> = vec![
        (
            "truncated",
            v1_bytes[..v1_bytes.len() / 3].to_vec(),
            LoadErrorKind::InvalidComponent,
            "not a valid WebAssembly component",
        ),
        (
            "garbage",
            (0..4096u32)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
                .collect(),
            LoadErrorKind::InvalidComponent,
            "not a valid WebAssembly component",
        ),
        (
            "core-module",
            wat::parse_str("(module)").expect("wat"),
            LoadErrorKind::InvalidComponent,
            "not a valid WebAssembly component",
        ),
        (
            "empty-component",
            wat::parse_str("(component)").expect("wat"),
            LoadErrorKind::IncompatibleContract,
            "incompatible plugin contract",
        ),
        (
            "unknown-import",
            wat::parse_str(r#"(component (import "evil:net/raw-socket@1.0.0" (instance)))"#)
                .expect("wat"),
            LoadErrorKind::IncompatibleContract,
            "incompatible plugin contract",
        ),
    ];
    for (name, bytes, kind, message) in cases {
        let path = dir.path().join(format!("{name}.wasm"));
        std::fs::write(&path, &bytes).expect("write");
        let error = slot.reload_from(&runtime, &path).expect_err(name);
        assert_eq!(error.kind(), kind, "{name}: {error}");
        let text = error.to_string();
        assert!(text.contains(message), "{name}: {text}");
        assert!(
            text.contains(&path.display().to_string()),
            "{name}: names the file: {text}"
        );
        assert_eq!(slot.current().version(), v1, "{name}: v1 keeps serving");
    }
    let missing = slot
        .reload_from(&runtime, &dir.path().join("missing.wasm"))
        .expect_err("missing file");
    assert_eq!(missing.kind(), LoadErrorKind::Io);

    // The old version still works.
    let tenant = tenant(9, Arc::new(MockTransport::new(MockZendesk::new())));
    let report = runtime.transform(&slot.current(), &tenant, &identify(9, 0));
    assert!(report.result.is_ok(), "{:?}", report.result);
}

#[test]
fn a_call_keeps_the_version_it_started_with() {
    let runtime = runtime();
    let slot = PluginSlot::new(runtime.load_plugin_file(Path::new(V1)).expect("v1"));
    let held = slot.current();
    let report = slot.reload_from(&runtime, Path::new(V2)).expect("v2 loads");
    assert_eq!(report.to_version, v2_version());
    assert!(report.load_time > Duration::ZERO);

    let tenant = tenant(8, Arc::new(MockTransport::new(MockZendesk::new())));
    let old = runtime.transform(&held, &tenant, &identify(8, 0));
    let new = runtime.transform(&slot.current(), &tenant, &identify(8, 1));
    assert_eq!(old.plugin_version, held.version());
    assert_eq!(new.plugin_version, v2_version());
    assert_ne!(old.plugin_version, new.plugin_version);
}

#[test]
fn a_swap_to_another_plugin_is_refused() {
    let runtime = runtime();
    let slot = PluginSlot::new(runtime.load_plugin_file(Path::new(V1)).expect("v1"));
    let error = slot
        .reload_from(&runtime, Path::new(env!("ADVERSARY_WASM")))
        .expect_err("another plugin");
    assert_eq!(error.kind(), LoadErrorKind::NameMismatch);
    let text = error.to_string();
    assert!(
        text.contains("`adversary`") && text.contains("`zendesk`"),
        "{text}"
    );
    assert_eq!(slot.current().description().name, "zendesk");
}

#[test]
fn the_polling_fallback_swaps_too() {
    let watched = Watched::start(watch_polling);
    let (path, swaps, slot) = (&watched.path, &watched.swaps, &watched.slot);
    assert_eq!(watched.handle.mode(), "polling");
    std::thread::sleep(Duration::from_millis(150));
    replace_atomically(path, &std::fs::read(V2).expect("v2"));
    match next_event(swaps) {
        SwapEvent::Swapped(report) => assert_eq!(report.to_version, v2_version()),
        SwapEvent::Rejected { reason, .. } => panic!("rejected: {reason}"),
    }
    assert_eq!(slot.current().version(), v2_version());
}

#[test]
fn watching_a_path_without_a_directory_fails_instead_of_watching_nothing() {
    let runtime = runtime();
    let slot = Arc::new(PluginSlot::new(
        runtime.load_plugin_file(Path::new(V1)).expect("v1"),
    ));
    let error = watch(runtime, slot, "/no/such/directory/zendesk.wasm", |_| {}).err();
    let text = error
        .expect("no handle for a watch that cannot start")
        .to_string();
    assert!(text.contains("/no/such/directory"), "{text}");
}
