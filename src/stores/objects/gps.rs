//! `strip_gps`: remove the GPS block from an image's EXIF, leaving every other byte alone.
//!
//! The image container (JPEG, PNG, WebP) is taken apart and put back together by the
//! `img-parts` crate, which keeps every segment or chunk it does not change byte for byte,
//! so the compressed picture data is untouched. Inside the EXIF blob (a small TIFF file) the
//! GPS IFD is removed in place: the GPS pointer entry (tag 0x8825) leaves its IFD, and the
//! GPS IFD with all the values it points to is overwritten with zeros. Nothing else in the
//! blob moves, so every other offset stays valid — maker notes with absolute offsets
//! included, which a decode-and-re-encode of the EXIF would break. A bare TIFF file is
//! handled the same way, being its own EXIF blob.
//!
//! GPS coordinates that an XMP packet may also carry are outside the EXIF and not touched.

use bytes::Bytes;
use img_parts::{DynImage, ImageEXIF};

/// Why an object could not have its GPS block removed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StripGpsError {
    #[error("not an image this tool can edit (JPEG, PNG, WebP or TIFF)")]
    NotAnImage,
    #[error("the image's EXIF block is malformed: {0}")]
    BadExif(&'static str),
}

/// The image with its GPS block removed, or the same bytes when it had none.
pub fn strip_gps(image: &[u8]) -> Result<Vec<u8>, StripGpsError> {
    if is_tiff(image) {
        let mut tiff = image.to_vec();
        remove_gps_ifd(&mut tiff)?;
        return Ok(tiff);
    }
    let mut parsed = match DynImage::from_bytes(Bytes::copy_from_slice(image)) {
        Ok(Some(parsed)) => parsed,
        Ok(None) | Err(_) => return Err(StripGpsError::NotAnImage),
    };
    let Some(exif) = parsed.exif() else {
        return Ok(image.to_vec());
    };
    let mut exif = exif.to_vec();
    if !remove_gps_ifd(&mut exif)? {
        return Ok(image.to_vec());
    }
    parsed.set_exif(Some(Bytes::from(exif)));
    Ok(parsed.encoder().bytes().to_vec())
}

fn is_tiff(bytes: &[u8]) -> bool {
    bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*")
}

/// The GPS pointer tag in IFD0 (and, rarely, in later IFDs).
const GPS_IFD_POINTER: u16 = 0x8825;
/// IFD chains longer than this are treated as malformed (and cycles end here too).
const MAX_IFDS: usize = 32;

/// A TIFF blob with its byte order.
struct Tiff<'a> {
    bytes: &'a mut [u8],
    little: bool,
}

impl Tiff<'_> {
    fn u16_at(&self, at: usize) -> Result<u16, StripGpsError> {
        let b = self
            .bytes
            .get(at..at + 2)
            .ok_or(StripGpsError::BadExif("an IFD runs past the end"))?;
        let b = [b[0], b[1]];
        Ok(if self.little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }

    fn u32_at(&self, at: usize) -> Result<u32, StripGpsError> {
        let b = self
            .bytes
            .get(at..at + 4)
            .ok_or(StripGpsError::BadExif("an IFD runs past the end"))?;
        let b = [b[0], b[1], b[2], b[3]];
        Ok(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn put_u16(&mut self, at: usize, value: u16) {
        let b = if self.little {
            value.to_le_bytes()
        } else {
            value.to_be_bytes()
        };
        self.bytes[at..at + 2].copy_from_slice(&b);
    }

    fn zero(&mut self, from: usize, len: usize) -> Result<(), StripGpsError> {
        self.bytes
            .get_mut(from..from.saturating_add(len))
            .ok_or(StripGpsError::BadExif("a GPS value lies past the end"))?
            .fill(0);
        Ok(())
    }

    /// The byte range of an IFD: its entry count, entries, and next-IFD offset.
    fn ifd_len(&self, at: usize) -> Result<usize, StripGpsError> {
        let count = usize::from(self.u16_at(at)?);
        let len = 2 + 12 * count + 4;
        if at + len > self.bytes.len() {
            return Err(StripGpsError::BadExif("an IFD runs past the end"));
        }
        Ok(len)
    }
}

/// Removes the GPS IFD from a TIFF/EXIF blob in place. Returns whether there was one.
fn remove_gps_ifd(blob: &mut [u8]) -> Result<bool, StripGpsError> {
    let little = match blob.get(..2) {
        Some(b"II") => true,
        Some(b"MM") => false,
        _ => return Err(StripGpsError::BadExif("no TIFF byte-order mark")),
    };
    let mut tiff = Tiff {
        bytes: blob,
        little,
    };
    if tiff.u16_at(2)? != 42 {
        return Err(StripGpsError::BadExif("no TIFF magic number"));
    }
    let mut removed = false;
    let mut ifd = tiff.u32_at(4)? as usize;
    let mut seen = Vec::new();
    while ifd != 0 {
        if seen.contains(&ifd) || seen.len() >= MAX_IFDS {
            return Err(StripGpsError::BadExif("the IFD chain loops"));
        }
        seen.push(ifd);
        if let Some(gps) = take_gps_pointer(&mut tiff, ifd)? {
            zero_ifd(&mut tiff, gps)?;
            removed = true;
        }
        let len = tiff.ifd_len(ifd)?;
        ifd = tiff.u32_at(ifd + len - 4)? as usize;
    }
    Ok(removed)
}

/// Removes the GPS pointer entry from the IFD at `ifd`, returning the GPS IFD's offset.
/// The entries after it move up by one, so the IFD stays sorted and well-formed; the 12
/// bytes freed at its end are zeroed.
fn take_gps_pointer(tiff: &mut Tiff<'_>, ifd: usize) -> Result<Option<usize>, StripGpsError> {
    let len = tiff.ifd_len(ifd)?;
    let count = usize::from(tiff.u16_at(ifd)?);
    let Some(index) =
        (0..count).find(|&i| tiff.u16_at(ifd + 2 + 12 * i).ok() == Some(GPS_IFD_POINTER))
    else {
        return Ok(None);
    };
    let entry = ifd + 2 + 12 * index;
    let gps = tiff.u32_at(entry + 8)? as usize;
    let end = ifd + len;
    tiff.bytes.copy_within(entry + 12..end, entry);
    tiff.zero(end - 12, 12)?;
    tiff.put_u16(ifd, (count - 1) as u16);
    Ok(Some(gps))
}

/// Overwrites an IFD and every value stored outside it with zeros.
fn zero_ifd(tiff: &mut Tiff<'_>, ifd: usize) -> Result<(), StripGpsError> {
    let len = tiff.ifd_len(ifd)?;
    let count = usize::from(tiff.u16_at(ifd)?);
    for i in 0..count {
        let entry = ifd + 2 + 12 * i;
        let kind = tiff.u16_at(entry + 2)?;
        let n = tiff.u32_at(entry + 4)? as usize;
        let size = type_size(kind).saturating_mul(n);
        if size > 4 {
            let at = tiff.u32_at(entry + 8)? as usize;
            tiff.zero(at, size)?;
        }
    }
    tiff.zero(ifd, len)
}

/// Bytes per value of a TIFF field type; 0 for unknown types (their values, if any, are
/// left in place rather than guessed at).
fn type_size(kind: u16) -> usize {
    match kind {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 => 8,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little-endian EXIF blob: IFD0 with Make (ASCII, out of line) and a GPS pointer,
    /// then a GPS IFD with a latitude (three rationals, out of line).
    fn exif_with_gps() -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(b"II*\0");
        b.extend_from_slice(&8u32.to_le_bytes());
        // IFD0 at 8: 2 entries, ends at 8 + 2 + 24 + 4 = 38.
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&0x010Fu16.to_le_bytes()); // Make
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(&6u32.to_le_bytes());
        b.extend_from_slice(&38u32.to_le_bytes());
        b.extend_from_slice(&GPS_IFD_POINTER.to_le_bytes());
        b.extend_from_slice(&4u16.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&44u32.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(b"Canon\0"); // 38..44
                                         // GPS IFD at 44: 1 entry, ends at 44 + 18 = 62; latitude values at 62..86.
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes()); // GPSLatitude
        b.extend_from_slice(&5u16.to_le_bytes());
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&62u32.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        for v in [48u32, 1, 51, 1, 30, 1] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b
    }

    #[test]
    fn the_gps_ifd_is_zeroed_and_unlinked_and_nothing_else_moves() {
        let original = exif_with_gps();
        let mut blob = original.clone();
        assert_eq!(remove_gps_ifd(&mut blob), Ok(true));
        assert_eq!(blob.len(), original.len());
        // IFD0 now has one entry (Make) and the Make value is where it was.
        assert_eq!(&blob[8..10], &1u16.to_le_bytes());
        assert_eq!(&blob[10..22], &original[10..22]);
        assert_eq!(&blob[38..44], b"Canon\0");
        assert!(blob[44..].iter().all(|&b| b == 0), "GPS bytes remain");
        // A second pass finds nothing left to remove.
        assert_eq!(remove_gps_ifd(&mut blob), Ok(false));
    }

    #[test]
    fn text_is_not_an_image_and_truncated_exif_is_an_error_not_a_panic() {
        assert_eq!(strip_gps(b"hello, world"), Err(StripGpsError::NotAnImage));
        let mut blob = exif_with_gps();
        blob.truncate(30);
        assert!(matches!(
            remove_gps_ifd(&mut blob),
            Err(StripGpsError::BadExif(_))
        ));
    }
}
