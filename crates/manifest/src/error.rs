//! The one error type of manifest and runtime-config loading.

use std::path::PathBuf;

/// What is wrong with a manifest or runtime-config file, always naming the
/// file and, where there is one, the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: at `{key}`: {message}")]
    Invalid {
        file: PathBuf,
        key: String,
        message: String,
    },
}

impl ManifestError {
    pub(crate) fn invalid(
        file: &std::path::Path,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Invalid {
            file: file.to_path_buf(),
            key: key.into(),
            message: message.into(),
        }
    }

    /// The dotted key at fault, if the error is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Invalid { key, .. } => Some(key),
            Self::Read { .. } => None,
        }
    }
}

/// Deserialises TOML text into `T`, turning a failure into an error naming
/// the file and the dotted path of the key at fault (and the line).
pub(crate) fn from_toml<T: serde::de::DeserializeOwned>(
    file: &std::path::Path,
    text: &str,
) -> Result<T, ManifestError> {
    let deserializer = toml::Deserializer::parse(text)
        .map_err(|e| ManifestError::invalid(file, "(document)", one_line(&e.to_string())))?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        let line = inner
            .span()
            .map(|span| format!(" (line {})", text[..span.start].lines().count().max(1)))
            .unwrap_or_default();
        let key = if key == "." {
            "(document)".to_string()
        } else {
            key
        };
        ManifestError::invalid(file, key, format!("{}{line}", inner.message()))
    })
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
