//! Reading a multipart form (the portal's and the desk's replies and new
//! tickets): every file is checked against the upload limit as it streams
//! in, so an oversized one is refused before it is held in memory whole.

use std::collections::BTreeMap;

use axum::extract::Multipart;
use axum::http::StatusCode;

use super::db::Upload;
use super::error::WebError;
use super::tickets::size_label;

/// A multipart form, read with every file checked against the upload limit
/// as it streams in.
#[derive(Default)]
pub struct Posted {
    pub text: BTreeMap<String, String>,
    pub files: Vec<Upload>,
}

/// Text fields longer than this are refused (a description is not a file).
const MAX_TEXT_FIELD: usize = 1024 * 1024;

pub async fn read_multipart(mut mp: Multipart, max_upload: u64) -> Result<Posted, WebError> {
    let mut out = Posted::default();
    let bad = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            WebError::TooLarge(
                "The form is larger than we accept: send fewer or smaller files.".into(),
            )
        } else {
            WebError::BadRequest(format!("The form could not be read: {e}"))
        }
    };
    while let Some(mut field) = mp.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        match field.file_name().map(str::to_owned) {
            Some(filename) if name == "attachments" => {
                let content_type = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_ascii_lowercase();
                let mut data = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    if (data.len() + chunk.len()) as u64 > max_upload {
                        return Err(WebError::TooLarge(format!(
                            "{filename:?} is larger than {}: we take files up to that size.",
                            size_label(max_upload)
                        )));
                    }
                    data.extend_from_slice(&chunk);
                }
                // An empty file input sends a part with no name and no data.
                if !(filename.is_empty() && data.is_empty()) {
                    out.files.push(Upload {
                        filename,
                        content_type,
                        data,
                    });
                }
            }
            _ => {
                let mut value = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    if value.len() + chunk.len() > MAX_TEXT_FIELD {
                        return Err(WebError::TooLarge(format!("The {name} field is too long.")));
                    }
                    value.extend_from_slice(&chunk);
                }
                out.text
                    .insert(name, String::from_utf8_lossy(&value).into_owned());
            }
        }
    }
    Ok(out)
}
