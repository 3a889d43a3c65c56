//! QR codes as SVG documents, for the invite screen.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// `text` as a QR code, an SVG document that scales to any size. Dark on light with a quiet
/// zone, as phone cameras read best.
pub(crate) fn svg(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(256, 256)
            .dark_color(svg::Color("#1a1a1a"))
            .light_color(svg::Color("#ffffff"))
            .quiet_zone(true)
            .build(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn makes_an_svg() {
        let svg = super::svg("http://192.168.1.20:41236/#door=abc").unwrap();
        assert!(svg.starts_with("<?xml") && svg.contains("<svg") && svg.contains("#1a1a1a"));
    }
}
