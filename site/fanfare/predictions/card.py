"""The share card's Open Graph image, drawn on the server with Pillow."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

SIZE = (1200, 630)
TIER_COLOURS = {"gold": "#d4a017", "silver": "#a8a9ad", "bronze": "#cd7f32", None: "#5b4b8a"}


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu when the system has it (Debian does), else Pillow's built-in scalable font."""
    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf", size)
    except OSError:
        return ImageFont.load_default(size)


def render(nickname: str, rank: int | None, points: int, fans: int, tier: str | None) -> bytes:
    """A 1200×630 PNG: nickname, rank out of how many, points and tier."""
    image = Image.new("RGB", SIZE, "#1b1533")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, SIZE[0], 24), fill=TIER_COLOURS[tier])
    draw.text((80, 90), "fanfare predictions", font=_font(44), fill="#c9c2e6")
    draw.text((80, 190), nickname, font=_font(96), fill="#ffffff")
    standing = f"#{rank:,} of {fans:,}" if rank else "not ranked yet"
    draw.text((80, 340), standing, font=_font(72), fill="#ffffff")
    line = f"{points:,} points" + (f" · {tier} tier" if tier else "")
    draw.text((80, 450), line, font=_font(56), fill=TIER_COLOURS[tier])
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()
