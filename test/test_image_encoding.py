import numpy as np
import pytest
import torch

from panoptic_ros.image_size import MAX_PIXELS
from panoptic_ros.image_encoding import (INPUT_ENCODINGS, TWO_PLANE_ENCODINGS, ImageEncodingError, bgr_to_rgb,
                                         decode_compressed, image_fields, image_view, rgb_tensor, unpadded_layout)
from helpers import two_plane_yuv_from_rgb, yuv422_from_rgb
from panoptic_ros.tools.hostile_frames import COMPRESSED, jpeg_claiming, jpeg_with_scans

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8)


def _buffer(array: np.ndarray, pad: int = 0) -> tuple[bytearray, int]:
    """Rows padded by ``pad`` bytes, as some drivers send them."""
    rows = array.reshape(array.shape[0], -1).view(np.uint8)
    padded = np.zeros((rows.shape[0], rows.shape[1] + pad), np.uint8)
    padded[:, : rows.shape[1]] = rows
    return bytearray(padded.tobytes()), padded.shape[1]


@pytest.mark.parametrize("encoding,array,expected", [
    ("rgb8", RGB, RGB),
    ("bgr8", RGB[..., ::-1].copy(), RGB),
    ("rgba8", np.dstack([RGB, np.full(RGB.shape[:2], 9, np.uint8)]), RGB),
    ("bgra8", np.dstack([RGB[..., ::-1], np.full(RGB.shape[:2], 9, np.uint8)]), RGB),
    ("mono8", RGB[..., 0].copy(), np.repeat(RGB[..., :1], 3, axis=2)),
])
@pytest.mark.parametrize("pad", [0, 3])
def test_byte_encodings_are_zero_copy_views_and_convert_to_rgb(encoding, array, expected, pad):
    data, step = _buffer(array, pad)
    view = image_view(5, 7, encoding, step, data)
    assert np.shares_memory(view, np.frombuffer(data, np.uint8))
    assert np.array_equal(view, array)
    assert torch.equal(rgb_tensor(view, encoding).permute(1, 2, 0), torch.from_numpy(expected))


@pytest.mark.parametrize("big_endian", [False, True])
def test_mono16_scales_like_cv_bridge(big_endian):
    values = np.array([[0, 128, 129, 385, 386, 65535]], dtype=np.uint16)
    raw = values.astype(">u2" if big_endian else "<u2").tobytes()
    view = image_view(1, 6, "mono16", 12, bytearray(raw), is_bigendian=big_endian)
    assert np.array_equal(view, values)
    out = rgb_tensor(view, "mono16")[0, 0].tolist()
    assert out == [0, 0, 1, 1, 2, 255]  # x * 255/65535 rounded (cv_bridge's convertTo to rgb8)


@pytest.mark.parametrize("encoding,channels", [("rgb16", "RGB"), ("bgr16", "BGR"), ("rgba16", "RGBA"),
                                               ("bgra16", "BGRA")])
@pytest.mark.parametrize("pad", [0, 1, 3])
@pytest.mark.parametrize("big_endian", [False, True])
def test_16_bit_colour_frames_convert_like_their_8_bit_counterparts(encoding, channels, pad, big_endian):
    planes = np.dstack([RGB, RGB[..., :1]])[..., ["RGBA".index(c) for c in channels]]
    wide = (planes.astype(np.uint16) * 257).astype(">u2" if big_endian else "<u2")  # 8-bit v as 16-bit 257 v
    data, step = _buffer(wide, pad)
    view = image_view(5, 7, encoding, step, data, is_bigendian=big_endian)
    assert torch.equal(rgb_tensor(view, encoding).permute(1, 2, 0), torch.from_numpy(RGB))


@pytest.mark.parametrize("width", [1, 2, 5])
def test_a_one_row_mono16_frame_with_an_odd_step_converts(width):
    """A single row is 'contiguous' to NumPy whatever its step, so an odd step once reached torch."""
    data, step = _buffer(np.arange(width, dtype=np.uint16)[None] * 1000, pad=1)
    out = rgb_tensor(image_view(1, width, "mono16", step, data), "mono16")
    assert out[0, 0].tolist() == [round(v * 1000 * 255 / 65535) for v in range(width)]


@pytest.mark.parametrize("current,deprecated", [("uyvy", "yuv422"), ("yuyv", "yuv422_yuy2")])
def test_the_current_yuv_names_are_the_deprecated_ones(current, deprecated):
    data, step = _buffer(yuv422_from_rgb(RGB[:, :6], deprecated))
    frames = [rgb_tensor(image_view(5, 6, name, step, data), name) for name in (current, deprecated)]
    assert torch.equal(*frames)


SMOOTH = np.dstack([*np.meshgrid(np.linspace(190, 218, 8), np.linspace(90, 110, 6)), np.full((6, 8), 40.0)]
                   ).round().astype(np.uint8)  # 6x8, orange, gentle gradients: 4:2:0 chroma loses little


@pytest.mark.parametrize("encoding", ["nv12", "nv21", "nv24"])
@pytest.mark.parametrize("pad", [0, 3])
def test_two_plane_yuv_frames_decode_to_their_colours(encoding, pad):
    """Each plane's rows padded as V4L2 pads them: the chroma rows in proportion to the Y rows."""
    planes, chroma_row = two_plane_yuv_from_rgb(SMOOTH, encoding), 16 if encoding == "nv24" else 8
    luma, step = _buffer(planes[:6], pad)
    chroma, _ = _buffer(planes[6:].reshape(-1, chroma_row), pad * chroma_row // 8)
    rgb = rgb_tensor(image_view(6, 8, encoding, step, luma + chroma), encoding).permute(1, 2, 0).numpy()
    assert np.abs(rgb.astype(int) - SMOOTH).max() <= 3


def test_nv24_decodes_exactly_as_nv12_where_their_chroma_agree():
    """OpenCV decodes nv12, our own arithmetic nv24: a frame whose chroma is constant on 2x2 blocks must
    come out of both the same, to the last bit. Any bytes, Y below 16 and above 235 too, and wide enough
    for OpenCV's vectorised path."""
    height, width = 4, 64
    luma = RNG.integers(0, 256, (height, width), dtype=np.uint8)
    pairs = RNG.integers(0, 256, (height // 2, width // 2, 2), dtype=np.uint8)
    nv12 = np.concatenate([luma.ravel(), pairs.ravel()])
    nv24 = np.concatenate([luma.ravel(), np.repeat(np.repeat(pairs, 2, 0), 2, 1).ravel()])
    frames = [rgb_tensor(image_view(height, width, name, width, planes.tobytes()), name)
              for name, planes in (("nv12", nv12), ("nv24", nv24))]
    assert torch.equal(*frames)


def test_nv21_is_nv12_with_its_chroma_pairs_swapped():
    nv12 = two_plane_yuv_from_rgb(RGB[:4, :6], "nv12")
    nv21 = nv12.copy()
    nv21[4:] = nv12[4:].reshape(-1, 2)[:, ::-1].reshape(-1, 6)
    assert np.array_equal(nv21, two_plane_yuv_from_rgb(RGB[:4, :6], "nv21"))
    assert torch.equal(*(rgb_tensor(image_view(4, 6, name, 6, bytearray(planes.tobytes())), name)
                         for name, planes in (("nv12", nv12), ("nv21", nv21))))


@pytest.mark.parametrize("step", [0, 12, 16])
def test_an_unpadded_two_plane_buffer_is_read_whatever_its_step_says(step):
    """sensor_msgs counts two channels for nv12, so some drivers send step = 2 x width."""
    planes = two_plane_yuv_from_rgb(SMOOTH[:, :6], "nv12")
    frames = [rgb_tensor(image_view(6, 6, "nv12", s, bytearray(planes.tobytes())), "nv12") for s in (6, step)]
    assert torch.equal(*frames)


@pytest.mark.parametrize("kwargs,message", [
    ({"height": 5}, "needs an even width and height"),
    ({"width": 7, "step": 7}, "needs an even width and height"),
    ({"data": bytearray(71)}, "data has 71 bytes; a 8x6 nv12 frame with row step 8 has 72"),
    ({"encoding": "nv24", "data": bytearray(72)}, "a 8x6 nv24 frame with row step 8 has 144"),
])
def test_malformed_two_plane_frames_raise_clear_errors(kwargs, message):
    args = {"height": 6, "width": 8, "encoding": "nv12", "step": 8, "data": bytearray(72)} | kwargs
    with pytest.raises(ImageEncodingError, match=message):
        rgb_tensor(image_view(**args), args["encoding"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("encoding", ["nv24", "mono8"])
def test_frames_converted_on_the_gpu_come_out_as_on_the_cpu(encoding):
    data = two_plane_yuv_from_rgb(RGB[:4, :6], "nv24") if encoding == "nv24" else RGB[:4, :6, 0].copy()
    view = image_view(4, 6, encoding, 6, bytearray(data.tobytes()))
    assert torch.equal(rgb_tensor(view, encoding, "cuda").cpu(), rgb_tensor(view, encoding))


@pytest.mark.parametrize("encoding", INPUT_ENCODINGS)
def test_every_encoding_comes_out_channels_last_on_the_cpu(encoding):
    """The input resize and the overlay take pixel-interleaved RGB; a planar or expanded-grey frame
    would cost each of them a copy."""
    step, size = unpadded_layout(6, 8, encoding)
    out = rgb_tensor(image_view(6, 8, encoding, step, bytearray(RNG.integers(0, 256, size, np.uint8).tobytes())),
                     encoding)
    assert out.shape == (3, 6, 8) and out.dtype == torch.uint8 and out.stride(0) == 1


@pytest.mark.parametrize("big_endian", [False, True])
def test_mono16_rows_with_an_odd_step_are_read_like_any_padded_rows(big_endian):
    values = RNG.integers(0, 65536, (3, 5), dtype=np.uint16)
    raw = np.zeros((3, 11), np.uint8)  # rows of 10 bytes, each padded by one: step 11
    raw[:, :10] = values.astype(">u2" if big_endian else "<u2").view(np.uint8).reshape(3, 10)
    view = image_view(3, 5, "mono16", 11, bytearray(raw.tobytes()), is_bigendian=big_endian)
    expected = rgb_tensor(values, "mono16")
    assert torch.equal(rgb_tensor(view, "mono16"), expected)


def _mosaic(pattern: str, bits: int) -> np.ndarray:
    """An 8x8 Bayer mosaic of one colour (200, 120, 40), ``bits`` deep."""
    colour = {"R": 200, "G": 120, "B": 40}
    mosaic = np.zeros((8, 8), np.uint8 if bits == 8 else np.uint16)
    for k, ch in enumerate(pattern):
        mosaic[k // 2::2, k % 2::2] = colour[ch] * (1 if bits == 8 else 257)
    return mosaic


def _centre(rgb: np.ndarray) -> list[float]:
    return rgb[2:6, 2:6].reshape(-1, 3).astype(np.float64).mean(0).round().tolist()


BAYER = [("rggb", "RGGB"), ("bggr", "BGGR"), ("gbrg", "GBRG"), ("grbg", "GRBG")]


@pytest.mark.parametrize("name,pattern", BAYER)
@pytest.mark.parametrize("bits", [8, 16])
def test_bayer_patterns_demosaic_to_the_right_colours(name, pattern, bits):
    encoding, mosaic = f"bayer_{name}{bits}", _mosaic(pattern, bits)
    rgb = rgb_tensor(image_view(8, 8, encoding, mosaic.strides[0], bytearray(mosaic.tobytes())), encoding)
    assert _centre(rgb.permute(1, 2, 0).numpy()) == [200, 120, 40]


@pytest.mark.parametrize("name", [name for name, _ in BAYER])
def test_a_16_bit_mosaic_is_demosaiced_at_16_bits_then_scaled_as_cv_bridge_does(name):
    import cv2
    from panoptic_ros.image_encoding import to_8_bit
    mosaic = np.random.default_rng(1).integers(0, 65536, (6, 8), dtype=np.uint16)
    rgb = rgb_tensor(image_view(6, 8, f"bayer_{name}16", 16, bytearray(mosaic.tobytes())), f"bayer_{name}16")
    raw8 = rgb_tensor(image_view(6, 8, f"bayer_{name}8", 8, bytearray(to_8_bit(mosaic).tobytes())), f"bayer_{name}8")
    opencv = {"rggb": cv2.COLOR_BayerBG2RGB, "bggr": cv2.COLOR_BayerRG2RGB, "gbrg": cv2.COLOR_BayerGR2RGB,
              "grbg": cv2.COLOR_BayerGB2RGB}[name]  # cv_bridge's names for ROS's patterns
    expected = to_8_bit(cv2.cvtColor(mosaic, opencv))
    assert np.array_equal(rgb.permute(1, 2, 0).numpy(), expected)
    assert not torch.equal(rgb, raw8)  # scaling first would round differently


@pytest.mark.parametrize("name,pattern", BAYER)
@pytest.mark.parametrize("bits", [8, 16])
def test_compressed_bayer_frames_are_demosaiced_as_their_format_says(name, pattern, bits):
    """image_transport compresses a Bayer frame as a grey mosaic and names the encoding in ``format``."""
    import cv2
    ok, png = cv2.imencode(".png", _mosaic(pattern, bits))
    assert ok
    assert _centre(decode_compressed(png.tobytes(), f"bayer_{name}{bits}; png compressed ")) == [200, 120, 40]
    grey = decode_compressed(png.tobytes(), f"mono{bits}; png compressed ")  # no Bayer named: a grey frame
    assert (grey[..., 0] == grey[..., 2]).all()


@pytest.mark.parametrize("kwargs,message", [
    ({"encoding": "32FC1"}, "unsupported encoding '32FC1'; supported: .*nv12, nv21, nv24"),
    ({"step": 20}, "step 20 is smaller"),
    ({"data": bytearray(10)}, "data has 10 bytes"),
    ({"height": 0}, "empty image"),
    ({"height": 100000, "width": 100000}, "pixel limit"),
])
def test_malformed_frames_raise_clear_errors(kwargs, message):
    args = {"height": 5, "width": 7, "encoding": "rgb8", "step": 21, "data": bytearray(RGB.tobytes())} | kwargs
    with pytest.raises(ImageEncodingError, match=message):
        image_view(**args)


def test_non_input_encodings_are_refused_for_inference():
    view = image_view(1, 2, "32SC1", 8, bytearray(8))
    with pytest.raises(ImageEncodingError, match="unsupported input encoding"):
        rgb_tensor(view, "32SC1")


def test_compressed_round_trip_and_corrupt_payloads():
    import cv2
    ok, png = cv2.imencode(".png", RGB[..., ::-1])
    assert ok and np.array_equal(decode_compressed(png.tobytes()), RGB)
    with pytest.raises(ImageEncodingError, match="could not be decoded"):
        decode_compressed(b"\xff\xd8\xff\xe0garbage")
    with pytest.raises(ImageEncodingError, match="empty"):
        decode_compressed(b"")


def test_output_fields_for_label_images():
    labels = np.array([[-1, 5001], [3000, 0]], dtype=np.int32)
    h, w, step, data = image_fields(labels, "32SC1")
    assert (h, w, step) == (2, 2, 8)
    assert np.array_equal(image_view(h, w, "32SC1", step, bytearray(data)), labels)


def test_agrees_with_ros2_cv_bridge_where_installed():
    cv_bridge = pytest.importorskip("cv_bridge", reason="cv_bridge comes with a ROS 2 install, not with the wheels")
    from sensor_msgs.msg import Image
    bridge = cv_bridge.CvBridge()
    for encoding in INPUT_ENCODINGS:
        if encoding in ("uyvy", "yuyv", *TWO_PLANE_ENCODINGS):  # sensor_msgs names cv_bridge does not convert
            continue
        depth = np.uint16 if "16" in encoding else np.uint8
        channels = 4 if encoding[:4] in ("rgba", "bgra") else 3 if encoding[:3] in ("rgb", "bgr") else 1
        array = RNG.integers(0, np.iinfo(depth).max + 1, (5, 7, channels)[: 2 + (channels > 1)], dtype=depth)
        if encoding.startswith("yuv422"):
            array = RNG.integers(0, 256, (5, 6, 2), dtype=np.uint8)
        msg: Image = bridge.cv2_to_imgmsg(array, encoding=encoding)
        ours = rgb_tensor(image_view(msg.height, msg.width, msg.encoding, msg.step, msg.data, bool(msg.is_bigendian)),
                          msg.encoding).permute(1, 2, 0).numpy()
        assert np.array_equal(ours, bridge.imgmsg_to_cv2(msg, "rgb8")), encoding


@pytest.mark.parametrize("height,width", [(40000, 65500), (12000, 12000)])
def test_compressed_headers_claiming_huge_sizes_are_refused_before_decoding(height, width):
    payload = jpeg_claiming(height, width)
    assert len(payload) < 10_000  # a few kilobytes that claim gigabytes
    with pytest.raises(ImageEncodingError, match=f"exceeds the {MAX_PIXELS} pixel limit"):
        decode_compressed(payload)


def test_jpegs_whose_decoding_would_outweigh_their_bytes_are_refused_before_decoding():
    """A scan bomb (one scan repeated) and a header claiming more blocks than the data can code;
    a progressive JPEG of ordinary scans and a flat frame still decode."""
    with pytest.raises(ImageEncodingError, match="210 scans, more than 100"):  # 200 copies + its own 10
        decode_compressed(jpeg_with_scans(200))
    with pytest.raises(ImageEncodingError, match="too small for its 8192x8192 header"):
        decode_compressed(jpeg_claiming(8192, 8192))
    with pytest.raises(ImageEncodingError, match="more than 100"):  # a phone's MPO is a JPEG as well
        decode_compressed(jpeg_with_scans(200, multi_picture=True))
    assert decode_compressed(jpeg_with_scans(0)).shape == (48, 80, 3)
    assert decode_compressed(jpeg_with_scans(0, multi_picture=True)).shape == (48, 80, 3)
    import cv2
    flat = cv2.imencode(".jpg", np.full((1024, 2048, 3), 128, np.uint8))[1].tobytes()
    assert decode_compressed(flat).shape == (1024, 2048, 3)


def test_a_zero_size_header_is_named_as_a_corrupt_header():
    import cv2
    png = cv2.imencode(".png", RGB)[1].tobytes()
    zero_width = png[:16] + b"\0\0\0\0" + png[20:]  # IHDR width
    with pytest.raises(ImageEncodingError, match="corrupt PNG header"):
        decode_compressed(zero_width)


@pytest.mark.parametrize("extension", [".bmp", ".tiff", ".webp"])
def test_only_jpeg_and_png_payloads_are_accepted(extension):
    import cv2
    ok, payload = cv2.imencode(extension, RGB[..., ::-1])
    assert ok
    with pytest.raises(ImageEncodingError, match="not JPEG or PNG"):
        decode_compressed(payload.tobytes())


@pytest.mark.parametrize("name", list(COMPRESSED))
def test_every_hostile_payload_of_the_catalogue_is_refused(name):
    with pytest.raises(ImageEncodingError):
        decode_compressed(COMPRESSED[name])


def test_corrupt_jpeg_data_is_decoded_without_writing_to_stderr(capfd):
    import cv2
    rgb = RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    jpeg = cv2.imencode(".jpg", rgb[..., ::-1])[1].tobytes()
    decode_compressed(jpeg[:600] + b"\xff\xd0garbage" + jpeg[600:])  # libjpeg: "Corrupt JPEG data: ..."
    with pytest.raises(ImageEncodingError, match="truncated"):
        decode_compressed(jpeg[: len(jpeg) // 2])
    assert capfd.readouterr().err == ""


def test_jpeg_decodes_like_opencv_and_a_sixteen_bit_png_like_the_raw_frame():
    import cv2
    rgb = RNG.integers(0, 256, (16, 24, 3), dtype=np.uint8)
    jpeg = cv2.imencode(".jpg", rgb[..., ::-1])[1].tobytes()
    reference = cv2.cvtColor(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert np.abs(decode_compressed(jpeg).astype(int) - reference).max() <= 1
    gray16 = RNG.integers(0, 65536, (5, 7), dtype=np.uint16)
    png16 = cv2.imencode(".png", gray16)[1].tobytes()
    raw = rgb_tensor(image_view(5, 7, "mono16", 14, bytearray(gray16.tobytes())), "mono16")
    assert np.array_equal(decode_compressed(png16, "mono16; png compressed "), raw.permute(1, 2, 0).numpy())
    gray8 = cv2.imencode(".png", rgb[..., 0])[1].tobytes()
    assert np.array_equal(decode_compressed(gray8), np.repeat(rgb[..., :1], 3, axis=2))


def test_long_encoding_names_are_shortened_in_errors():
    with pytest.raises(ImageEncodingError) as info:
        image_view(5, 7, "x" * 1_000_000, 21, bytearray(RGB.tobytes()))
    assert len(str(info.value)) < 300 and "1000000 characters" in str(info.value)


@pytest.mark.parametrize("encoding", ["yuv422", "yuv422_yuy2"])
def test_yuv422_of_both_byte_orders_decodes_to_the_colours_it_was_made_from(encoding):
    """4:2:2 (GMSL automotive cameras send it): UYVY is ROS's ``yuv422``, YUYV its ``yuv422_yuy2``."""
    colours = np.array([[200, 120, 40], [30, 160, 220], [250, 250, 250], [10, 10, 10]], np.uint8)
    rgb = np.repeat(np.repeat(colours[None], 2, axis=0), 2, axis=1)  # [2, 8, 3]: pixel pairs of one colour
    data, step = _buffer(yuv422_from_rgb(rgb, encoding), pad=4)
    out = rgb_tensor(image_view(2, 8, encoding, step, data), encoding).permute(1, 2, 0).numpy()
    assert np.abs(out.astype(int) - rgb).max() <= 3
    other = "yuv422_yuy2" if encoding == "yuv422" else "yuv422"
    assert np.abs(rgb_tensor(image_view(2, 8, other, step, data), other).permute(1, 2, 0).numpy().astype(int)
                  - rgb).max() > 50  # the byte order matters


def test_yuv422_of_an_odd_width_is_a_clear_error():
    with pytest.raises(ImageEncodingError, match="even width"):
        rgb_tensor(image_view(1, 3, "yuv422", 6, bytearray(6)), "yuv422")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the swap on a GPU needs one")
@pytest.mark.parametrize("encoding", ["bgr8", "bgra8"])
def test_bgr_frames_headed_for_a_gpu_come_out_as_on_the_cpu(encoding):
    channels = 3 if encoding == "bgr8" else 4
    padded = RNG.integers(0, 256, (5, 9 * channels), dtype=np.uint8)  # rows of 7 pixels padded to 9
    view = image_view(5, 7, encoding, 9 * channels, padded.tobytes())
    assert torch.equal(rgb_tensor(view, encoding, "cuda").cpu(), rgb_tensor(view, encoding))


@pytest.mark.parametrize("encoding", ["bgr8", "bgra8"])
def test_the_gpu_channel_swap_equals_opencvs(encoding):
    """Headed for a GPU, BGR(A) frames are swapped there (``bgr_to_rgb``, checked here on the CPU)."""
    channels = 3 if encoding == "bgr8" else 4
    frame = RNG.integers(0, 256, (5, 7, channels), dtype=np.uint8)
    assert torch.equal(bgr_to_rgb(torch.from_numpy(frame)), rgb_tensor(frame, encoding))


@pytest.mark.parametrize("encoding", ["mono16", "rgb16", "bayer_rggb16"])
def test_a_12_bit_camera_s_frames_fill_the_8_bits_when_its_bits_are_given(encoding):
    """A 12-bit camera sends 0-4095 in a 16-bit encoding: scaled as cv_bridge (x 255/65535) its white
    is 16 of 255; with ``bits`` 12 it is white again."""
    import cv2
    channels = 3 if encoding == "rgb16" else 1
    twelve = np.full((4, 4, channels)[: 2 + (channels > 1)], 4095, np.uint16)
    data, step = _buffer(twelve)
    view = image_view(4, 4, encoding, step, data)
    assert rgb_tensor(view, encoding).max() == 16
    assert (rgb_tensor(view, encoding, bits=12) == 255).all()
    png = cv2.imencode(".png", twelve)[1].tobytes()  # a 16-bit colour PNG for rgb16, as image_transport sends it
    assert (decode_compressed(png, f"{encoding}; png compressed ", bits=12) == 255).all()
    assert decode_compressed(png, f"{encoding}; png compressed ").max() == 16
