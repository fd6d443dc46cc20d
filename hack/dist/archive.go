package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"
)

// Member is one file of an archive.
type Member struct {
	Name string
	Mode fs.FileMode
	Data []byte
}

// Archive writes members, in the given order, into a .tar.gz or .zip (chosen
// by name) whose bytes depend only on the members and mtime: no owner names,
// uid/gid 0, every member stamped with mtime, no gzip name or time.
func Archive(name string, members []Member, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	var err error
	switch {
	case strings.HasSuffix(name, ".tar.gz"):
		err = writeTarGz(&buf, members, mtime)
	case strings.HasSuffix(name, ".zip"):
		err = writeZip(&buf, members, mtime)
	default:
		err = fmt.Errorf("%s: unknown archive type, want .tar.gz or .zip", name)
	}
	return buf.Bytes(), err
}

func writeTarGz(w io.Writer, members []Member, mtime time.Time) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, m := range members {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     m.Name,
			Mode:     int64(m.Mode),
			Size:     int64(len(m.Data)),
			ModTime:  mtime.UTC().Truncate(time.Second),
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(m.Data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func writeZip(w io.Writer, members []Member, mtime time.Time) error {
	zw := zip.NewWriter(w)
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestCompression)
	})
	for _, m := range members {
		hdr := &zip.FileHeader{
			Name:     m.Name,
			Method:   zip.Deflate,
			Modified: mtime.UTC().Truncate(time.Second),
		}
		hdr.SetMode(m.Mode)
		f, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := f.Write(m.Data); err != nil {
			return err
		}
	}
	return zw.Close()
}
