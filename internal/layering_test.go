// Package internal_test checks the layering of keyprep's packages
// (docs/architecture.md §1 Packages and layering) from `go list`, so that a
// forbidden import fails `go test ./...` with the package and the import
// named.
package internal_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/printer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/keyprep/keyprep"

// The rules, as tables of module-relative package patterns ("x/..." is x and
// everything under it). Adding a package to a layer is one line.
var (
	// pure packages are domain rules and parsers: they import nothing from
	// the module.
	pure = []string{
		"internal/duration",
		"internal/keycaps",
		"internal/pin",
		"internal/policy",
		"internal/safetext",
		"internal/userlist",
		"internal/webauthn",
	}
	// workflow packages run an enrollment, a bench or an onboarding
	// against interfaces: neither the Graph SDK nor a simulation may be
	// among their (non-test) dependencies, however indirect.
	workflow = []string{
		"internal/bench/...",
		"internal/bio",
		"internal/enroll",
		"internal/onboard",
		"internal/policy",
	}
	// simulations stand in for Entra and for keys.
	simulations = []string{
		"internal/entrasim",
		"internal/simkeys",
		"internal/softkey/...",
	}
	// wiresSimulations may import a simulation (besides the simulations
	// themselves, which build on each other), each with the reason.
	wiresSimulations = map[string]string{
		"internal/cli": "the commands choose between Entra and the emulated tenant, real and virtual keys",
	}
	// cgo: the packages that may have cgo files, each with the reason.
	cgo = map[string]string{
		"hid": "talks to keys through libfido2",
	}
	// cgoChosen: the packages whose files differ with and without cgo. The
	// test type-checks their no-cgo files and checks that their exported
	// API is the same either way; every other package has the same files
	// either way, so the cgo build checks it for both. Keep the Graph
	// client out of this list: its no-cgo build would compile the Graph SDK
	// once more.
	cgoChosen = map[string]string{
		"hid":                       "libfido2 with cgo, a stub failing with ErrNoLibfido2 without",
		"internal/graph/tokencache": "azidentity's persistent token cache needs cgo (libsecret) on Linux",
	}
	// graphSDK are the import path prefixes of the Graph SDK.
	graphSDK = []string{
		"github.com/microsoftgraph/",
		"github.com/microsoft/kiota-",
	}
)

type goPackage struct {
	Dir        string
	ImportPath string
	Imports    []string
	GoFiles    []string
	CgoFiles   []string
	Standard   bool
	Error      *struct{ Err string }
}

// listPackages is `go list -deps` over the whole module with cgo on or off
// ("1" or "0"), whatever the test's own environment. An error listing a
// module package fails the test.
func listPackages(t *testing.T, cgoEnabled string) map[string]*goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-deps", "-json=Dir,ImportPath,Imports,GoFiles,CgoFiles,Standard,Error", module+"/...")
	cmd.Env = append(os.Environ(), "CGO_ENABLED="+cgoEnabled)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs := map[string]*goPackage{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if p.Error != nil && inModule(p.ImportPath) {
			t.Fatalf("CGO_ENABLED=%s go list %s: %s", cgoEnabled, p.ImportPath, p.Error.Err)
		}
		pkgs[p.ImportPath] = &p
	}
	return pkgs
}

func inModule(importPath string) bool {
	return importPath == module || strings.HasPrefix(importPath, module+"/")
}

// rel is the module-relative path of a module package.
func rel(importPath string) string {
	return strings.TrimPrefix(strings.TrimPrefix(importPath, module), "/")
}

// matches reports whether the module-relative path p is one of patterns.
func matches(p string, patterns []string) bool {
	for _, pat := range patterns {
		if base, ok := strings.CutSuffix(pat, "/..."); ok {
			if p == base || strings.HasPrefix(p, base+"/") {
				return true
			}
		} else if p == pat {
			return true
		}
	}
	return false
}

// chain is the shortest import chain from one package to the first package
// that bad accepts, or nil.
func chain(pkgs map[string]*goPackage, from string, bad func(string) bool) []string {
	return chainSkipping(pkgs, from, bad, func(string) bool { return false })
}

// chainSkipping is chain not looking into the imports of packages skip
// accepts.
func chainSkipping(pkgs map[string]*goPackage, from string, bad, skip func(string) bool) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p != from && bad(p) {
			var c []string
			for ; p != ""; p = prev[p] {
				c = append([]string{p}, c...)
			}
			return c
		}
		if pkg := pkgs[p]; pkg != nil && (p == from || !skip(p)) {
			for _, imp := range pkg.Imports {
				if _, seen := prev[imp]; !seen {
					prev[imp] = p
					queue = append(queue, imp)
				}
			}
		}
	}
	return nil
}

func short(c []string) string {
	s := make([]string, len(c))
	for i, p := range c {
		if inModule(p) {
			p = rel(p)
		}
		s[i] = p
	}
	return strings.Join(s, " → ")
}

func TestLayering(t *testing.T) {
	pkgs := listPackages(t, "1")
	var ours []string
	for ip := range pkgs {
		if inModule(ip) {
			ours = append(ours, ip)
		}
	}
	sort.Strings(ours)

	t.Run("tables name existing packages", func(t *testing.T) {
		var listed []string
		listed = append(listed, pure...)
		listed = append(listed, workflow...)
		listed = append(listed, simulations...)
		for p := range wiresSimulations {
			listed = append(listed, p)
		}
		for p := range cgo {
			listed = append(listed, p)
		}
		for p := range cgoChosen {
			listed = append(listed, p)
		}
		for _, pat := range listed {
			found := false
			for _, ip := range ours {
				found = found || matches(rel(ip), []string{pat})
			}
			if !found {
				t.Errorf("%s is in the layering tables but no such package exists", pat)
			}
		}
	})

	t.Run("pure packages import nothing from the module", func(t *testing.T) {
		for _, ip := range ours {
			if !matches(rel(ip), pure) {
				continue
			}
			for _, imp := range pkgs[ip].Imports {
				if inModule(imp) {
					t.Errorf("%s imports %s: a pure package imports nothing from the module", rel(ip), imp)
				}
			}
		}
	})

	t.Run("only hid uses cgo", func(t *testing.T) {
		for _, ip := range ours {
			if p := pkgs[ip]; len(p.CgoFiles) > 0 {
				if _, ok := cgo[rel(ip)]; !ok {
					t.Errorf("%s has cgo files %v: only %v may use cgo", rel(ip), p.CgoFiles, keys(cgo))
				}
			}
		}
	})

	t.Run("the no-cgo build", func(t *testing.T) {
		nocgo := listPackages(t, "0")
		for ip, p := range nocgo {
			if p.Error != nil {
				t.Errorf("CGO_ENABLED=0: %s: %s", ip, p.Error.Err)
			}
		}
		// chosen reports whether ip's files depend on cgo.
		chosen := func(ip string) bool {
			a, b := pkgs[ip], nocgo[ip]
			if a == nil || b == nil {
				return a != b
			}
			return !slices.Equal(slices.Concat(a.GoFiles, a.CgoFiles), slices.Concat(b.GoFiles, b.CgoFiles))
		}
		var check []string
		for _, ip := range ours {
			if nocgo[ip] == nil {
				t.Errorf("CGO_ENABLED=0 go list does not list %s", rel(ip))
				continue
			}
			if !chosen(ip) {
				// Only a cgoChosen package, checked without cgo below, may
				// reach a dependency whose files depend on cgo.
				bad := func(dep string) bool { return !inModule(dep) && !nocgo[dep].Standard && chosen(dep) }
				checked := func(dep string) bool { _, ok := cgoChosen[rel(dep)]; return inModule(dep) && ok }
				if c := chainSkipping(nocgo, ip, bad, checked); c != nil {
					t.Errorf("%s depends on %s, whose files depend on cgo (%s): move that use into a package of cgoChosen", rel(ip), c[len(c)-1], short(c))
				}
				continue
			}
			if _, ok := cgoChosen[rel(ip)]; !ok {
				t.Errorf("%s has files that depend on cgo: only %v may (add it there if it must, with the reason)", rel(ip), keys(cgoChosen))
				continue
			}
			check = append(check, ip)
			// Importers are type-checked against the cgo variant only.
			withCgo := exportedAPI(t, pkgs[ip].Dir, slices.Concat(pkgs[ip].GoFiles, pkgs[ip].CgoFiles))
			without := exportedAPI(t, nocgo[ip].Dir, nocgo[ip].GoFiles)
			for _, k := range sortedKeys(withCgo, without) {
				a, ok1 := withCgo[k]
				b, ok2 := without[k]
				switch {
				case !ok2:
					t.Errorf("%s: %s is missing without cgo: both variants must have the same API", rel(ip), k)
				case !ok1:
					t.Errorf("%s: %s exists only without cgo: both variants must have the same API", rel(ip), k)
				case a != b:
					t.Errorf("%s: %s is %s with cgo, %s without: both variants must have the same API", rel(ip), k, a, b)
				}
			}
		}
		for _, ip := range check {
			if err := typecheck(t, nocgo[ip]); err != nil {
				t.Errorf("%s does not type-check without cgo: %v", rel(ip), err)
			}
		}
	})

	isSim := func(ip string) bool { return inModule(ip) && matches(rel(ip), simulations) }
	isSDK := func(ip string) bool {
		for _, pre := range graphSDK {
			if strings.HasPrefix(ip, pre) {
				return true
			}
		}
		return false
	}

	t.Run("workflow packages depend on neither the Graph SDK nor a simulation", func(t *testing.T) {
		for _, ip := range ours {
			if !matches(rel(ip), workflow) {
				continue
			}
			if c := chain(pkgs, ip, isSDK); c != nil {
				t.Errorf("%s depends on the Graph SDK package %s (%s): a workflow package works against interfaces",
					rel(ip), c[len(c)-1], short(c))
			}
			if c := chain(pkgs, ip, isSim); c != nil {
				t.Errorf("%s depends on the simulation %s (%s): a workflow package runs the same code on simulation and reality",
					rel(ip), rel(c[len(c)-1]), short(c))
			}
		}
	})

	t.Run("only the CLI wires simulations", func(t *testing.T) {
		for _, ip := range ours {
			if isSim(ip) {
				continue
			}
			if _, ok := wiresSimulations[rel(ip)]; ok {
				continue
			}
			for _, imp := range pkgs[ip].Imports {
				if isSim(imp) {
					t.Errorf("%s imports the simulation %s: only %v wire simulations", rel(ip), imp, keys(wiresSimulations))
				}
			}
		}
	})
}

// buildFlags are the go command's flags of the build the test runs in
// (race_test.go adds -race), so that go list -export finds that build's
// export data in the cache instead of compiling the dependencies again.
var buildFlags []string

// typecheck type-checks p (as listed by go list) from its source against
// the export data of its dependencies from the cgo build. For a cgoChosen
// package listed with CGO_ENABLED=0 this checks its no-cgo files without
// compiling the standard library and its dependencies once more without
// cgo: their exported API is the same either way (the other checks of the
// no-cgo build make sure of that for everything but the standard library,
// whose cgo-dependent packages keep one API by design).
func typecheck(t *testing.T, p *goPackage) error {
	t.Helper()
	args := append([]string{"list", "-export", "-deps", "-json=ImportPath,Export,Error"}, buildFlags...)
	cmd := exec.Command("go", append(args, p.Imports...)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -export: %v\n%s", err, stderr.Bytes())
	}
	exports := map[string]string{}
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var e struct{ ImportPath, Export string }
		if err := dec.Decode(&e); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list -export output: %v", err)
		}
		exports[e.ImportPath] = e.Export
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range p.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		if exports[path] == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(exports[path])
	})
	_, err = (&types.Config{Importer: imp}).Check(p.ImportPath, fset, files, nil)
	return err
}

// exportedAPI is the exported declarations of the named files in dir, each
// printed without comments or bodies: funcs and methods with their
// signatures, types (structs by their exported fields), consts and vars
// with their declared types.
func exportedAPI(t *testing.T, dir string, files []string) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	api := map[string]string{}
	str := func(n ast.Node) string {
		if n == nil || reflect.ValueOf(n).IsNil() {
			return ""
		}
		var b strings.Builder
		if err := printer.Fprint(&b, fset, n); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	for _, name := range files {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				key := "func " + d.Name.Name
				if d.Recv != nil {
					recv := d.Recv.List[0].Type
					if star, ok := recv.(*ast.StarExpr); ok {
						recv = star.X
					}
					if ix, ok := recv.(*ast.IndexExpr); ok {
						recv = ix.X
					}
					id, ok := recv.(*ast.Ident)
					if !ok || !id.IsExported() {
						continue
					}
					key = "method " + str(d.Recv.List[0].Type) + "." + d.Name.Name
				}
				api[key] = str(d.Type)
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch spec := spec.(type) {
					case *ast.TypeSpec:
						if !spec.Name.IsExported() {
							continue
						}
						v := str(spec.TypeParams)
						if st, ok := spec.Type.(*ast.StructType); ok {
							v += "struct{"
							for _, fl := range st.Fields.List {
								for _, n := range fl.Names {
									if n.IsExported() {
										v += n.Name + " " + str(fl.Type) + "; "
									}
								}
								if len(fl.Names) == 0 {
									v += str(fl.Type) + "; "
								}
							}
							v += "}"
						} else {
							v += str(spec.Type)
						}
						api["type "+spec.Name.Name] = v
					case *ast.ValueSpec:
						for _, n := range spec.Names {
							if n.IsExported() {
								api[d.Tok.String()+" "+n.Name] = str(spec.Type)
							}
						}
					}
				}
			}
		}
	}
	return api
}

func sortedKeys(ms ...map[string]string) []string {
	seen := map[string]bool{}
	var k []string
	for _, m := range ms {
		for s := range m {
			if !seen[s] {
				seen[s] = true
				k = append(k, s)
			}
		}
	}
	sort.Strings(k)
	return k
}

func keys(m map[string]string) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}
