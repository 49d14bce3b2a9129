//! Small real images with EXIF (including a GPS block) for the `strip_gps` tests.
//!
//! The pictures are encoded by the `image` crate; the EXIF blob is written here by hand as a
//! little-endian TIFF structure, so the tests know exactly which fields it holds.

use bytes::Bytes;
use img_parts::{DynImage, ImageEXIF};
use std::io::Cursor;

/// An EXIF blob with Make, Model, an Exif IFD (DateTimeOriginal) and a GPS IFD
/// (GPSLatitudeRef, GPSLatitude).
pub fn exif_with_gps() -> Vec<u8> {
    fn entry(b: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32) {
        b.extend_from_slice(&tag.to_le_bytes());
        b.extend_from_slice(&kind.to_le_bytes());
        b.extend_from_slice(&count.to_le_bytes());
        b.extend_from_slice(&value.to_le_bytes());
    }
    let mut b = Vec::new();
    b.extend_from_slice(b"II*\0");
    b.extend_from_slice(&8u32.to_le_bytes());
    // IFD0 at 8, 4 entries, ends at 62.
    b.extend_from_slice(&4u16.to_le_bytes());
    entry(&mut b, 0x010F, 2, 6, 110); // Make
    entry(&mut b, 0x0110, 2, 7, 116); // Model
    entry(&mut b, 0x8769, 4, 1, 62); // Exif IFD pointer
    entry(&mut b, 0x8825, 4, 1, 80); // GPS IFD pointer
    b.extend_from_slice(&0u32.to_le_bytes());
    // Exif IFD at 62, 1 entry, ends at 80.
    b.extend_from_slice(&1u16.to_le_bytes());
    entry(&mut b, 0x9003, 2, 20, 123); // DateTimeOriginal
    b.extend_from_slice(&0u32.to_le_bytes());
    // GPS IFD at 80, 2 entries, ends at 110.
    b.extend_from_slice(&2u16.to_le_bytes());
    entry(&mut b, 0x0001, 2, 2, u32::from_le_bytes(*b"N\0\0\0")); // GPSLatitudeRef, inline
    entry(&mut b, 0x0002, 5, 3, 143); // GPSLatitude
    b.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(b.len(), 110);
    b.extend_from_slice(b"Canon\0");
    b.extend_from_slice(b"EOS 5D\0");
    b.extend_from_slice(b"2024:05:01 10:00:00\0");
    for v in [48u32, 1, 51, 1, 3061, 100] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b
}

fn picture() -> image::RgbImage {
    image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, ((x + y) * 2) as u8])
    })
}

/// A JPEG photo with [`exif_with_gps`] in its APP1 segment.
pub fn jpeg_with_gps() -> Vec<u8> {
    let mut encoded = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut encoded, 90)
        .encode_image(&picture())
        .expect("encode jpeg");
    with_exif(encoded)
}

/// The same JPEG photo without any EXIF: a photo whose location was already removed.
pub fn jpeg_without_exif() -> Vec<u8> {
    let mut encoded = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut encoded, 90)
        .encode_image(&picture())
        .expect("encode jpeg");
    encoded
}

/// A PNG with [`exif_with_gps`] in an `eXIf` chunk.
pub fn png_with_gps() -> Vec<u8> {
    let mut encoded = Vec::new();
    picture()
        .write_to(&mut Cursor::new(&mut encoded), image::ImageFormat::Png)
        .expect("encode png");
    with_exif(encoded)
}

fn with_exif(encoded: Vec<u8>) -> Vec<u8> {
    let mut parsed = DynImage::from_bytes(Bytes::from(encoded))
        .expect("parse image")
        .expect("a known image format");
    parsed.set_exif(Some(Bytes::from(exif_with_gps())));
    parsed.encoder().bytes().to_vec()
}

/// The decoded pixels of an image.
pub fn pixels(bytes: &[u8]) -> Vec<u8> {
    image::load_from_memory(bytes)
        .expect("a valid image")
        .to_rgb8()
        .into_raw()
}

/// The EXIF fields of an image as (IFD context, tag number) pairs, plus the Make value.
pub fn exif_fields(bytes: &[u8]) -> (Vec<(String, u16)>, Option<String>) {
    let exif = exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .expect("readable EXIF");
    let fields = exif
        .fields()
        .map(|f| (format!("{:?}", f.tag.context()), f.tag.number()))
        .collect();
    let make = exif
        .get_field(exif::Tag::Make, exif::In::PRIMARY)
        .map(|f| f.display_value().to_string());
    (fields, make)
}

/// Every part of an image other than its EXIF, in order (segments or chunks, raw bytes).
pub fn non_exif_parts(bytes: &[u8]) -> Vec<Vec<u8>> {
    let parsed = DynImage::from_bytes(Bytes::copy_from_slice(bytes))
        .expect("parse image")
        .expect("a known image format");
    match parsed {
        DynImage::Jpeg(jpeg) => jpeg
            .segments()
            .iter()
            .filter(|s| !s.contents().starts_with(b"Exif\0\0"))
            .map(|s| s.clone().encoder().bytes().to_vec())
            .collect(),
        DynImage::Png(png) => png
            .chunks()
            .iter()
            .filter(|c| &c.kind() != b"eXIf")
            .map(|c| c.clone().encoder().bytes().to_vec())
            .collect(),
        DynImage::WebP(_) => panic!("no WebP in these tests"),
    }
}
