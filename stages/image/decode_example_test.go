package image_test

import (
	"bytes"
	"errors"
	"fmt"
	stdimage "image"
	"image/color"
	"image/png"

	"github.com/contrastream/contrastream/stages/image"
)

func ExampleDecode() {
	// A 4×2 gray+alpha PNG, made here so that the example is self-contained.
	src := stdimage.NewNRGBA(stdimage.Rect(0, 0, 4, 2))
	for x := 0; x < 4; x++ {
		src.Set(x, 0, color.NRGBA{200, 100, 50, 255})
		src.Set(x, 1, color.NRGBA{10, 20, 30, 128}) // alpha is dropped, not composited
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, src); err != nil {
		panic(err)
	}

	var dst image.Image // reused from call to call: decode into the same buffer
	if err := image.Decode(&dst, buf.Bytes(), image.DecodeOptions{}); err != nil {
		panic(err)
	}
	fmt.Println(dst.W, dst.H, dst.C, dst.Pix[:3], dst.Pix[3*4:3*4+3])

	// A header that declares too many pixels is refused before allocation.
	err := image.Decode(&dst, buf.Bytes(), image.DecodeOptions{MaxPixels: 7})
	fmt.Println(errors.Is(err, image.ErrTooLarge), err)

	_, err = image.DecodeHeader([]byte("GIF89a"))
	fmt.Println(err)
	// Output:
	// 4 2 3 [200 100 50] [10 20 30]
	// true image: too many pixels: 4x2 is over the limit of 7 pixels
	// image: unknown format
}
