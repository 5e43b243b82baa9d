// Command checkmanifest checks that a Windows executable carries keyprep's
// application manifest (scripts/windows/keyprep.exe.manifest): resource 1 of
// type RT_MANIFEST, with the given requestedExecutionLevel, Windows 10 among
// the supported systems and long paths on.
//
//	go run ./scripts/windows/checkmanifest FILE.exe LEVEL
//
// It reads the resource section itself (debug/pe gives the sections; the
// resource tree's layout is the PE format's, "The .rsrc Section":
// https://learn.microsoft.com/en-us/windows/win32/debug/pe-format#the-rsrc-section).
package main

import (
	"debug/pe"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"strings"
)

const (
	rtManifest = 24 // RT_MANIFEST
	manifestID = 1  // CREATEPROCESS_MANIFEST_RESOURCE_ID
	// win10 is the supportedOS id of Windows 10 and 11.
	win10 = "{8e0f7a12-bfb3-4fe8-b9a5-48fd50a15a9a}"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: checkmanifest FILE.exe LEVEL")
		os.Exit(2)
	}
	if err := check(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintf(os.Stderr, "checkmanifest: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	fmt.Printf("checkmanifest: %s: manifest with requestedExecutionLevel %s, Windows 10, long paths\n", os.Args[1], os.Args[2])
}

// manifestXML is the part of an application manifest checked here
// (encoding/xml matches the local names whatever their namespace).
type manifestXML struct {
	Level struct {
		Level string `xml:"level,attr"`
	} `xml:"trustInfo>security>requestedPrivileges>requestedExecutionLevel"`
	SupportedOS []struct {
		ID string `xml:"Id,attr"`
	} `xml:"compatibility>application>supportedOS"`
	LongPathAware string `xml:"application>windowsSettings>longPathAware"`
}

func check(path, level string) error {
	f, err := pe.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	raw, err := manifest(f)
	if err != nil {
		return err
	}
	var m manifestXML
	if err := xml.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("the manifest is not XML: %w", err)
	}
	if m.Level.Level != level {
		return fmt.Errorf("requestedExecutionLevel %q, want %q", m.Level.Level, level)
	}
	win := false
	for _, s := range m.SupportedOS {
		win = win || strings.EqualFold(s.ID, win10)
	}
	if !win {
		return errors.New("the manifest does not name Windows 10 (supportedOS " + win10 + ")")
	}
	if strings.TrimSpace(m.LongPathAware) != "true" {
		return errors.New("the manifest does not turn on longPathAware")
	}
	return nil
}

// manifest returns the bytes of resource RT_MANIFEST/1 (any language).
func manifest(f *pe.File) ([]byte, error) {
	sec := f.Section(".rsrc")
	if sec == nil {
		return nil, errors.New("no resource section (.rsrc): the .exe carries no manifest")
	}
	data, err := sec.Data()
	if err != nil {
		return nil, err
	}
	off := uint32(0)
	for _, id := range []uint32{rtManifest, manifestID} {
		e, ok, err := lookup(data, off, id)
		if err != nil {
			return nil, err
		}
		if !ok || !e.dir {
			return nil, fmt.Errorf("no manifest resource (type %d, id %d)", rtManifest, manifestID)
		}
		off = e.off
	}
	langs, err := entries(data, off)
	if err != nil {
		return nil, err
	}
	if len(langs) == 0 || langs[0].dir {
		return nil, errors.New("the manifest resource has no data")
	}
	// IMAGE_RESOURCE_DATA_ENTRY: RVA, size, code page, reserved.
	d := langs[0].off
	if int(d)+16 > len(data) {
		return nil, errors.New("resource data entry out of bounds")
	}
	rva := binary.LittleEndian.Uint32(data[d:])
	size := binary.LittleEndian.Uint32(data[d+4:])
	start := int64(rva) - int64(sec.VirtualAddress)
	if start < 0 || start+int64(size) > int64(len(data)) {
		return nil, errors.New("manifest data out of bounds")
	}
	return data[start : start+int64(size)], nil
}

// entry is one IMAGE_RESOURCE_DIRECTORY_ENTRY.
type entry struct {
	id    uint32
	named bool
	dir   bool   // off is a subdirectory, else a data entry
	off   uint32 // from the start of the section
}

// entries reads the IMAGE_RESOURCE_DIRECTORY at off.
func entries(data []byte, off uint32) ([]entry, error) {
	if int(off)+16 > len(data) {
		return nil, errors.New("resource directory out of bounds")
	}
	n := int(binary.LittleEndian.Uint16(data[off+12:])) + int(binary.LittleEndian.Uint16(data[off+14:]))
	if int(off)+16+8*n > len(data) {
		return nil, errors.New("resource directory entries out of bounds")
	}
	out := make([]entry, n)
	for i := range out {
		p := int(off) + 16 + 8*i
		name := binary.LittleEndian.Uint32(data[p:])
		to := binary.LittleEndian.Uint32(data[p+4:])
		out[i] = entry{id: name &^ (1 << 31), named: name&(1<<31) != 0, dir: to&(1<<31) != 0, off: to &^ (1 << 31)}
	}
	return out, nil
}

// lookup finds the entry with numeric id in the directory at off.
func lookup(data []byte, off, id uint32) (entry, bool, error) {
	es, err := entries(data, off)
	if err != nil {
		return entry{}, false, err
	}
	for _, e := range es {
		if !e.named && e.id == id {
			return e, true, nil
		}
	}
	return entry{}, false, nil
}
