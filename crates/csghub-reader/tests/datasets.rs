//! Dataset split → file resolution following HF `datasets` conventions.
#![cfg(feature = "datasets")]

use std::path::Path;

use csghub_reader::datasets::DataFormat;
use csghub_reader::{DataFiles, DatasetRepo, Error};

fn touch(root: &Path, files: &[&str]) {
    for f in files {
        let p = root.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"x").unwrap();
    }
}

fn files_of(df: &DataFiles, split: &str) -> Vec<String> {
    df.get(split)
        .unwrap_or_default()
        .iter()
        .map(|f| f.relative.clone())
        .collect()
}

fn repo(files: &[&str], readme: Option<&str>) -> (tempfile::TempDir, DatasetRepo) {
    let dir = tempfile::tempdir().unwrap();
    touch(dir.path(), files);
    if let Some(r) = readme {
        std::fs::write(dir.path().join("README.md"), r).unwrap();
    }
    let repo = DatasetRepo::from_dir(dir.path()).unwrap();
    (dir, repo)
}

#[test]
fn readme_configs_with_split_entries() {
    let card = "---\nlicense: mit\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: \"data/train-*\"\n  - split: test\n    path:\n    - data/test-a.parquet\n    - data/test-b.parquet\n---\n# Title\n";
    let (_d, r) = repo(
        &[
            "data/train-0.parquet",
            "data/train-1.parquet",
            "data/test-a.parquet",
            "data/test-b.parquet",
            "data/other.parquet",
        ],
        Some(card),
    );
    let df = r.data_files().unwrap();
    assert_eq!(df.config_name, "default");
    assert_eq!(df.split_names(), ["train", "test"]);
    assert_eq!(
        files_of(&df, "train"),
        ["data/train-0.parquet", "data/train-1.parquet"]
    );
    assert_eq!(
        files_of(&df, "test"),
        ["data/test-a.parquet", "data/test-b.parquet"]
    );
    assert_eq!(df.get("train").unwrap()[0].format, DataFormat::Parquet);
    assert!(df.get("train").unwrap()[0].path.is_file());
}

#[test]
fn readme_multiple_configs_default_flag_and_string_form() {
    let card = "---\nconfigs:\n- config_name: en\n  data_files: en/*.jsonl\n- config_name: zh\n  default: true\n  data_files:\n    train: zh/train.csv\n    validation: [zh/dev.csv]\n---\n";
    let (_d, r) = repo(
        &["en/a.jsonl", "en/b.jsonl", "zh/train.csv", "zh/dev.csv"],
        Some(card),
    );
    let configs = r.configs().unwrap();
    assert_eq!(configs.len(), 2);
    let df = r.data_files().unwrap();
    assert_eq!(df.config_name, "zh");
    assert_eq!(files_of(&df, "validation"), ["zh/dev.csv"]);
    let en = r.data_files_for("en").unwrap();
    assert_eq!(files_of(&en, "train"), ["en/a.jsonl", "en/b.jsonl"]);
    let err = r.data_files_for("fr").unwrap_err();
    assert!(matches!(&err, Error::UnknownDatasetConfig { available, .. } if available == "en, zh"));
}

#[test]
fn readme_data_dir_infers_inside_it() {
    let card = "---\nconfigs:\n- config_name: sub\n  data_dir: sub\n---\n";
    let (_d, r) = repo(
        &["sub/train.jsonl", "sub/test.jsonl", "train.jsonl"],
        Some(card),
    );
    let df = r.data_files().unwrap();
    assert_eq!(files_of(&df, "train"), ["sub/train.jsonl"]);
    assert_eq!(files_of(&df, "test"), ["sub/test.jsonl"]);
}

#[test]
fn readme_without_configs_falls_back_to_names() {
    let (_d, r) = repo(&["train.csv"], Some("---\nlicense: apache-2.0\n---\nhello"));
    assert_eq!(files_of(&r.data_files().unwrap(), "train"), ["train.csv"]);
}

#[test]
fn push_to_hub_sharded_layout() {
    let (_d, r) = repo(
        &[
            "data/train-00000-of-00002.parquet",
            "data/train-00001-of-00002.parquet",
            "data/test-00000-of-00001.parquet",
            "data/my-split-00000-of-00001.parquet",
            "README.md",
        ],
        None,
    );
    let df = r.data_files().unwrap();
    assert_eq!(df.split_names(), ["train", "test", "my-split"]);
    assert_eq!(files_of(&df, "train").len(), 2);
}

#[test]
fn split_names_in_directories() {
    let (_d, r) = repo(
        &[
            "train/a.jsonl",
            "train/b.jsonl",
            "validation/c.jsonl",
            "test/d.jsonl",
        ],
        None,
    );
    let df = r.data_files().unwrap();
    assert_eq!(df.split_names(), ["train", "validation", "test"]);
    assert_eq!(files_of(&df, "train"), ["train/a.jsonl", "train/b.jsonl"]);
}

#[test]
fn split_names_in_file_names_with_synonyms() {
    let (_d, r) = repo(
        &[
            "data/train.parquet",
            "data/dev.jsonl",
            "data/my_eval-01.csv",
            "data/other.arrow",
            "notes.txt",
        ],
        None,
    );
    let df = r.data_files().unwrap();
    assert_eq!(files_of(&df, "train"), ["data/train.parquet"]);
    assert_eq!(files_of(&df, "validation"), ["data/dev.jsonl"]);
    assert_eq!(files_of(&df, "test"), ["data/my_eval-01.csv"]);
    // "trainer.csv" is not a train file: the keyword must be followed by a separator.
    let (_d2, r2) = repo(&["trainer.csv", "valid.json"], None);
    let df2 = r2.data_files().unwrap();
    assert_eq!(df2.split_names(), ["validation"]);
}

#[test]
fn everything_is_train_without_keywords() {
    let (_d, r) = repo(
        &[
            "a.parquet",
            "b/c.jsonl",
            ".hidden/x.csv",
            "__pycache__/y.csv",
            "script.py",
        ],
        None,
    );
    let df = r.data_files().unwrap();
    assert_eq!(df.split_names(), ["train"]);
    assert_eq!(files_of(&df, "train"), ["a.parquet", "b/c.jsonl"]);
}

#[test]
fn no_data_files_is_an_error() {
    let (_d, r) = repo(&["README.md", "script.py"], None);
    assert!(matches!(
        r.data_files().unwrap_err(),
        Error::NoDataFiles { .. }
    ));
}

#[test]
fn hostile_pattern_with_dotdot() {
    let card = "---\nconfigs:\n- config_name: x\n  data_files: ../secret/*.csv\n---\n";
    let (_d, r) = repo(&["a.csv"], Some(card));
    let err = r.data_files().unwrap_err();
    assert!(
        matches!(&err, Error::InvalidPattern { pattern, .. } if pattern == "../secret/*.csv"),
        "{err}"
    );
}

#[test]
fn hostile_pattern_absolute_or_url() {
    for p in ["/etc/*.csv", "hf://datasets/x/y/*.csv"] {
        let card = format!("---\nconfigs:\n- config_name: x\n  data_files: \"{p}\"\n---\n");
        let (_d, r) = repo(&["a.csv"], Some(&card));
        assert!(
            matches!(r.data_files().unwrap_err(), Error::InvalidPattern { .. }),
            "{p}"
        );
    }
}

#[test]
fn pattern_matching_nothing_is_an_error() {
    let card = "---\nconfigs:\n- config_name: x\n  data_files:\n  - split: train\n    path: nothing/*.csv\n---\n";
    let (_d, r) = repo(&["a.csv"], Some(card));
    assert!(matches!(
        r.data_files().unwrap_err(),
        Error::InvalidPattern { .. }
    ));
}

#[test]
fn malformed_yaml_is_an_error() {
    let (_d, r) = repo(&["a.csv"], Some("---\nconfigs: [\n---\n"));
    assert!(matches!(
        r.data_files().unwrap_err(),
        Error::InvalidDatasetCard { .. }
    ));
}

#[test]
fn wrong_yaml_shape_is_an_error() {
    for card in [
        "---\nconfigs: 3\n---\n",
        "---\nconfigs:\n- just a string\n---\n",
        "---\nconfigs:\n- config_name: x\n---\n",
        "---\nconfigs:\n- config_name: x\n  data_files: 5\n---\n",
    ] {
        let (_d, r) = repo(&["a.csv"], Some(card));
        assert!(
            matches!(r.configs().unwrap_err(), Error::InvalidDatasetCard { .. }),
            "{card}"
        );
    }
}

#[test]
fn not_a_directory() {
    assert!(matches!(
        DatasetRepo::from_dir("/nonexistent/dataset").unwrap_err(),
        Error::MissingFile { .. }
    ));
}
