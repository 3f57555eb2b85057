//! Makes `stylecam-train` run without `LD_LIBRARY_PATH`: torch-sys (`links = "tch"`) tells its
//! direct dependents where libtorch lives (`DEP_TCH_LIBTORCH_LIB`); we bake that directory into
//! the binary's rpath and force-link `libtorch_cuda` when it exists so CUDA works with `--device cuda`
//! (the linker would otherwise drop it as unused with `--as-needed`).

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:warning=torch-sys did not report its libtorch directory; the binary will need LD_LIBRARY_PATH");
        println!("cargo:rustc-env=STYLECAM_TORCH_LIB_DIR=");
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,{lib_dir}");
    // The venv that provides torch normally provides onnxruntime too (export verification).
    println!("cargo:rustc-env=STYLECAM_TORCH_LIB_DIR={lib_dir}");
    if Path::new(&lib_dir).join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-L{lib_dir}");
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
