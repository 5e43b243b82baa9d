package escrow

import (
	"strings"
	"testing"
	"time"
)

func TestSlipRender(t *testing.T) {
	s := Slip{UPN: "adele.vance@contoso.test", DisplayName: "Adele <Vance>", Model: "YubiKey 5 NFC", Serial: "12345678",
		Enrolled: time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC), PIN: []byte("24681357")}
	tests := []struct {
		name string
		html bool
		want []string
		not  []string
	}{
		{"text", false, []string{"For           Adele <Vance> (adele.vance@contoso.test)", "YubiKey 5 NFC, serial 12345678", "PIN           24681357", "Keep this slip private"}, []string{"<td"}},
		{"html", true, []string{"Adele &lt;Vance&gt; (adele.vance@contoso.test)", `<td class="pin">24681357</td>`, "<!doctype html>"}, []string{"<Vance>"}},
		{"no serial, no date", false, []string{"Security key  YubiKey 5 NFC\n"}, []string{"serial", "Prepared"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := s
			if tt.name == "no serial, no date" {
				in.Serial, in.Enrolled = "", time.Time{}
			}
			got := string(in.Render(tt.html))
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("slip lacks %q:\n%s", w, got)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(got, n) {
					t.Errorf("slip has %q:\n%s", n, got)
				}
			}
		})
	}
}
