//! Any byte string as a safetensors file: never a panic; whatever we accept, the reference
//! `safetensors` crate accepts too, with identical views.
#![no_main]

use csghub_reader::SafetensorsFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = SafetensorsFile::from_bytes(data.to_vec(), "fuzz") else {
        return;
    };
    let reference = safetensors::SafeTensors::deserialize(data)
        .expect("csghub-reader accepted a file the safetensors crate rejects");
    assert_eq!(file.len(), reference.len());
    for view in file.tensors() {
        let theirs = reference
            .tensor(view.name)
            .expect("tensor missing in reference");
        assert_eq!(view.dtype, theirs.dtype());
        assert_eq!(view.shape, theirs.shape());
        assert_eq!(view.bytes, theirs.data());
        let bits = view.element_count() as u128 * view.dtype.bitsize() as u128;
        assert_eq!(bits, view.bytes.len() as u128 * 8);
    }
});
