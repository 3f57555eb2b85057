//! A model fresh out of `stylecam-train train` works in the app's engine (what `stylecam stylize`
//! runs), and the app's pixels equal the trainer's own tch forward pass to one level of 255.
//! (Its own test binary: the app's engine owns this process's ONNX Runtime environment.)

mod common;

use stylecam::engine::{DeviceChoice, EngineOptions, Stylizer};
use stylecam_train::{checkpoint, data, net::ImfwNet};

#[test]
fn trained_model_stylizes_like_the_trainer_in_the_app_engine() {
    let dir = tempfile::tempdir().unwrap();
    let photos = dir.path().join("photos");
    common::write_dataset(&photos, 4);
    let style = dir.path().join("style.png");
    common::style_image(64, 64).save(&style).unwrap();
    let run = dir.path().join("run");
    let model = dir.path().join("tiny.onnx");
    let out = common::trainer()
        .args(["train", "--style"])
        .arg(&style)
        .arg("--data")
        .arg(&photos)
        .args(["--vgg", "random:1", "--out"])
        .arg(&model)
        .args([
            "--size", "64", "--batch", "2", "--width", "8", "--blocks", "1",
        ])
        .args(["--steps", "3", "--device", "cpu", "--threads", "1"])
        .args(["--content-weight", "5e3", "--style-weight", "1e9"])
        .arg("--checkpoint-dir")
        .arg(&run)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut stylizer = Stylizer::load(&model, DeviceChoice::Cpu, &EngineOptions::default())
        .unwrap_or_else(|e| panic!("the app cannot load the exported model: {e}"));
    assert_eq!(stylizer.name(), "tiny");

    // The trainer's own view of the same network.
    let ck = checkpoint::latest(&run)
        .unwrap()
        .expect("a final checkpoint");
    let mut net = ImfwNet::new(ck.meta.config.arch(), tch::Device::Cpu, 0).unwrap();
    net.load(&ck.net).unwrap();

    let photo = common::photo(99, 52, 36);
    let app = stylizer.stylize(&photo).unwrap();
    let ours = data::tensor_to_image(&tch::no_grad(|| {
        net.forward(&data::image_to_tensor(&photo))
    }))
    .unwrap();
    assert_eq!(app.dimensions(), (52, 36));
    let worst = app
        .as_raw()
        .iter()
        .zip(ours.as_raw())
        .map(|(a, b)| (*a as i32 - *b as i32).abs())
        .max()
        .unwrap();
    assert!(worst <= 1, "app and trainer differ by {worst} levels");
    assert_ne!(app, photo, "the model should change the image");

    // Any size in, same size out.
    let odd = common::photo(5, 37, 23);
    assert_eq!(stylizer.stylize(&odd).unwrap().dimensions(), (37, 23));
}
