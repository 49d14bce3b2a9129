//! Reading S3's refusals: a short description of an SDK error without the server's
//! message (which may quote a key), one sentence of advice when the refusal is about
//! the credentials rather than the request, and, for a request that never got an answer,
//! whether credentials were missing or the endpoint out of reach.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// What to fix when S3 refuses a request for who is asking rather than for what: one
/// sentence per error code, naming the settings to check. `None` for any other error.
pub(super) fn credential_advice(code: Option<&str>, status: Option<u16>) -> Option<&'static str> {
    Some(match code {
        Some("InvalidAccessKeyId") => {
            "the access key id is not known to this server (InvalidAccessKeyId). Check the \
             credentials: AWS_ACCESS_KEY_ID (or the profile named by AWS_PROFILE) must be a key \
             of the account that owns the bucket, on this endpoint"
        }
        Some("SignatureDoesNotMatch") => {
            "the secret key does not belong to the access key id (SignatureDoesNotMatch). \
             Check the credentials: AWS_SECRET_ACCESS_KEY must be the secret of \
             AWS_ACCESS_KEY_ID, with no stray spaces or line breaks"
        }
        Some("AccessDenied" | "AllAccessDisabled") => {
            "the credentials were accepted but are not allowed to do this (AccessDenied). \
             Check the credentials' permissions: the identity needs s3:ListBucket, \
             s3:ListBucketVersions, s3:GetObject, s3:GetObjectTagging, s3:PutObject, \
             s3:PutObjectTagging, s3:DeleteObject and s3:DeleteObjectVersion on this bucket, \
             in its IAM policy and in the bucket policy"
        }
        Some("ExpiredToken" | "TokenRefreshRequired") => {
            "the session token has expired (ExpiredToken). Check the credentials: renew the \
             temporary credentials (AWS_SESSION_TOKEN, or log in again for the profile in \
             AWS_PROFILE)"
        }
        Some("InvalidToken") => {
            "the session token is not valid (InvalidToken). Check the credentials: \
             AWS_SESSION_TOKEN must belong to the same AWS_ACCESS_KEY_ID and \
             AWS_SECRET_ACCESS_KEY"
        }
        Some("RequestTimeTooSkewed") => {
            "this machine's clock is too far from the server's (RequestTimeTooSkewed). Check \
             the clock (NTP) before the credentials"
        }
        // HEAD requests carry no error body, so a refusal there has no code.
        None if status == Some(403) => {
            "it answered 403 Forbidden. Check the credentials (AWS_ACCESS_KEY_ID, \
             AWS_SECRET_ACCESS_KEY or AWS_PROFILE) and their permissions on the bucket"
        }
        _ => return None,
    })
}

/// What to do when no credentials were found at all: where the SDK looks for them.
const NO_CREDENTIALS: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and \
     AWS_SESSION_TOKEN for temporary credentials) in the job's environment, or name a \
     profile of ~/.aws/credentials or ~/.aws/config with AWS_PROFILE; on AWS, a role (EKS \
     IRSA or Pod Identity, an instance profile) provides them instead";

/// Whether a request that never got an answer failed for want of credentials: the SDK
/// could not sign it because no provider of its default chain (environment, profile,
/// web identity, container, instance metadata) had any. The SDK's credential errors are
/// not a type this crate can name, so their words are read: each of them, and the "no
/// identity" error of the signer, speaks of credentials, which no transport error does.
fn lacks_credentials<E, R>(err: &SdkError<E, R>) -> bool
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    matches!(err, SdkError::DispatchFailure(_))
        && causes(err).any(|cause| cause.to_ascii_lowercase().contains("credential"))
}

/// The messages of an error and its sources, in order, each once: the SDK's errors often
/// repeat their source's message in their own.
fn causes<'e>(err: &'e (dyn std::error::Error + 'static)) -> impl Iterator<Item = String> + 'e {
    let mut seen: Vec<String> = Vec::new();
    std::iter::successors(Some(err), |e| e.source())
        .map(|e| e.to_string())
        .filter(move |m| {
            let repeat = seen.iter().any(|s| s.contains(m.as_str()));
            seen.push(m.clone());
            !m.is_empty() && !repeat
        })
}

/// Why a request never got an answer (a dispatch failure or a timeout), in words: no
/// credentials were found, and where to put them, or the endpoint could not be reached,
/// with the transport's causes — never the SDK's debug rendering of the error.
pub(super) fn unanswered<E, R>(err: &SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    if lacks_credentials(err) {
        format!("no AWS credentials were found: {NO_CREDENTIALS}")
    } else {
        format!(
            "cannot reach the endpoint ({})",
            causes(err).collect::<Vec<_>>().join(": ")
        )
    }
}

/// Why the SDK could not build a request: no credentials (the usual cause, said as
/// [`unanswered`] says it), or the causes it gives.
pub(super) fn unbuilt<E, R>(err: &SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    if lacks_credentials(err) {
        format!("no AWS credentials were found: {NO_CREDENTIALS}")
    } else {
        format!(
            "could not build the request ({})",
            causes(err).collect::<Vec<_>>().join(": ")
        )
    }
}

/// A short description of an SDK error: the S3 error code and HTTP status, or the kind of
/// transport failure. The server's message is left out because it may quote the key.
pub(super) fn describe_sdk_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    err: &SdkError<E, HttpResponse>,
) -> String {
    match err {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => unanswered(err),
        _ => {
            let status = err
                .raw_response()
                .map(|r| r.status().as_u16().to_string())
                .unwrap_or_else(|| "no response".to_owned());
            format!(
                "S3 error {} (HTTP {status})",
                err.code().unwrap_or("unknown")
            )
        }
    }
}

/// Some S3-compatible servers (moto among them) answer GetBucketVersioning with a root
/// element the SDK does not accept, so it reports an unparseable 200. The status is then
/// read from the raw body: only `Enabled` or `Suspended` mean old versions may exist.
pub(super) fn versioning_from_raw_body<E>(err: &SdkError<E, HttpResponse>) -> Option<bool> {
    let raw = err.raw_response()?;
    if raw.status().as_u16() != 200 {
        return None;
    }
    let body = std::str::from_utf8(raw.body().bytes()?).ok()?;
    Some(body.contains("<Status>Enabled</Status>") || body.contains("<Status>Suspended</Status>"))
}

/// Whether the server does not implement the API at all (`NotImplemented`, HTTP 501), as
/// several S3-compatible servers answer the versioning, Object Lock and tagging calls. The
/// bucket is then treated as having none of that feature (SPEC §6).
pub(super) fn is_not_implemented<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    err.code() == Some("NotImplemented")
        || err.raw_response().map(|r| r.status().as_u16()) == Some(501)
}

pub(super) fn is_not_found<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> bool {
    matches!(err.code(), Some("NotFound" | "NoSuchKey"))
        || err.raw_response().map(|r| r.status().as_u16()) == Some(404)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_of_the_credentials_says_what_to_check() {
        for code in [
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AccessDenied",
            "ExpiredToken",
            "InvalidToken",
        ] {
            let advice = credential_advice(Some(code), Some(403)).expect(code);
            assert!(advice.contains(code), "{advice}");
            assert!(advice.contains("Check the credentials"), "{advice}");
        }
        assert!(credential_advice(Some("InvalidAccessKeyId"), Some(403))
            .is_some_and(|a| a.contains("AWS_ACCESS_KEY_ID")));
        assert!(credential_advice(Some("SignatureDoesNotMatch"), Some(403))
            .is_some_and(|a| a.contains("AWS_SECRET_ACCESS_KEY")));
        assert!(
            credential_advice(None, Some(403)).is_some(),
            "a HEAD has no code"
        );
        assert!(credential_advice(Some("NoSuchBucket"), Some(404)).is_none());
        assert!(credential_advice(Some("SlowDown"), Some(503)).is_none());
    }
}
