//! An 8-bit grey raster drawn in memory and written as PNG: carrier labels (the training
//! marketplace's) and report charts. Text is the 8×8 bitmap font, scaled.

/// A raster being drawn: 8-bit grey, white to start.
pub struct Raster {
    pub w: usize,
    pub h: usize,
    pub pixels: Vec<u8>,
}

impl Raster {
    pub fn new(w: usize, h: usize) -> Raster {
        Raster {
            w,
            h,
            pixels: vec![255; w * h],
        }
    }

    /// Blackens the rectangle from (x0, y0) to (x1, y1), clipped to the raster.
    pub fn fill(&mut self, x0: usize, y0: usize, x1: usize, y1: usize) {
        self.shade(x0, y0, x1, y1, 0);
    }

    /// Paints the rectangle from (x0, y0) to (x1, y1) in grey `level` (0 black, 255 white),
    /// clipped to the raster.
    pub fn shade(&mut self, x0: usize, y0: usize, x1: usize, y1: usize, level: u8) {
        for y in y0.min(self.h)..y1.min(self.h) {
            let row = &mut self.pixels[y * self.w..(y + 1) * self.w];
            for p in &mut row[x0.min(self.w)..x1.min(self.w)] {
                *p = level;
            }
        }
    }

    /// Writes at most `max_chars` characters of `text` at (x, y), each pixel of the 8×8 font
    /// `scale` dots square; text past the right edge is cut.
    pub fn text(&mut self, x: usize, y: usize, scale: usize, text: &str, max_chars: usize) {
        let glyphs = text.chars().filter_map(crate::font::glyph).take(max_chars);
        for (i, g) in glyphs.enumerate() {
            let gx = x + i * 8 * scale;
            for (row, bits) in g.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        let (px, py) = (gx + col * scale, y + row * scale);
                        self.fill(px, py, px + scale, py + scale);
                    }
                }
            }
        }
    }

    pub fn png(&self, dots_per_metre: Option<u32>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, self.w as u32, self.h as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_pixel_dims(dots_per_metre.map(|d| png::PixelDimensions {
            xppu: d,
            yppu: d,
            unit: png::Unit::Meter,
        }));
        // Writing to a Vec cannot fail for I/O reasons, and the pixels match the header.
        let mut writer = enc.write_header().expect("PNG header into memory");
        writer
            .write_image_data(&self.pixels)
            .expect("PNG data of the declared size");
        writer.finish().expect("PNG into memory");
        out
    }
}
