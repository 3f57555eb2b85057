//! Runtime loading failures. Its own test binary: a process loads ONNX Runtime at most once,
//! so the failing explicit path must be tried before anything else loads the library.

use std::path::Path;

use stylecam::engine::runtime;
use stylecam::Error;

#[test]
fn bogus_explicit_path_lists_it_then_the_search_still_works() {
    let bogus = Path::new("/nonexistent/stylecam-test/libonnxruntime.so");
    match runtime::init(Some(bogus)) {
        Err(e @ Error::RuntimeNotFound { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&bogus.display().to_string()), "{msg}");
            assert!(msg.contains("not found"), "{msg}");
            assert!(msg.contains("--ort-lib"), "the fix is missing: {msg}");
        }
        other => panic!("expected RuntimeNotFound, got {other:?}"),
    }

    // A file that exists but is no library: "failed to load" with the loader's reason.
    let d = tempfile::tempdir().unwrap();
    let fake = d.path().join("libonnxruntime.so");
    std::fs::write(&fake, b"not a shared object").unwrap();
    match runtime::init(Some(&fake)) {
        Err(Error::RuntimeNotFound { tried }) => {
            assert!(tried.contains(&fake.display().to_string()), "{tried}");
            assert!(tried.contains("failed to load"), "{tried}");
        }
        other => panic!("expected RuntimeNotFound, got {other:?}"),
    }

    // The failures did not poison anything: the default search still finds the .venv library.
    let found = runtime::init(None).expect("libonnxruntime in the project's .venv (run `make setup`)");
    assert!(found.is_file());
}
