package store

import (
	"reflect"
	"testing"
)

// fill sets every field reachable from v to a non-zero value (slices of two elements).
func fill(t *testing.T, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem())
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fill(t, v.Field(i))
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := 0; i < 2; i++ {
			fill(t, v.Index(i))
		}
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Uint8, reflect.Int, reflect.Int64:
		if v.CanUint() {
			v.SetUint(7)
		} else {
			v.SetInt(7)
		}
	default:
		t.Fatalf("fill: add %s (%s) to clone and to this test", v.Type(), v.Kind())
	}
}

// shares reports a pointer or slice backing array reachable from both a and b.
func shares(a, b reflect.Value, path string) string {
	switch a.Kind() {
	case reflect.Pointer:
		if !a.IsNil() && a.Pointer() == b.Pointer() {
			return path
		}
		if !a.IsNil() {
			return shares(a.Elem(), b.Elem(), path)
		}
	case reflect.Struct:
		for i := 0; i < a.NumField(); i++ {
			if p := shares(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); p != "" {
				return p
			}
		}
	case reflect.Slice:
		if a.Len() > 0 && a.Pointer() == b.Pointer() {
			return path
		}
		for i := 0; i < a.Len(); i++ {
			if p := shares(a.Index(i), b.Index(i), path+"[]"); p != "" {
				return p
			}
		}
	}
	return ""
}

// The decoded-config cache hands out deep copies: a caller changing its connection (an
// edit builds on the one read) must not change what the next reader gets. A field added to
// the config with a slice or pointer in it fails here until clone copies it.
func TestConfigCloneIsDeep(t *testing.T) {
	var c connectionConfig
	fill(t, reflect.ValueOf(&c).Elem())
	cp := c.clone()
	if !reflect.DeepEqual(c, cp) {
		t.Fatalf("clone differs:\n%+v\n%+v", c, cp)
	}
	if p := shares(reflect.ValueOf(c), reflect.ValueOf(cp), "config"); p != "" {
		t.Fatalf("clone shares %s with the original", p)
	}
	if !reflect.DeepEqual(connectionConfig{}.clone(), connectionConfig{}) {
		t.Fatal("clone of the zero config is not zero")
	}
}

// A cached decode is used only for the very text it came from.
func TestDecodeConfigFollowsTheRow(t *testing.T) {
	a := `{"saml":{"idpMetadataXml":"<a/>","spKeySealed":"AQI=","spCertPem":"c","idpCertificatesPem":["p"]},"mapping":{"seat":true}}`
	b := `{"saml":{"idpMetadataXml":"<b/>","spKeySealed":"AQI=","spCertPem":"c"},"mapping":{}}`
	first, err := decodeConfig("conn-cache-test", a)
	if err != nil {
		t.Fatal(err)
	}
	first.SAML.IdPMetadataXML, first.SAML.SPKeySealed[0], first.SAML.IdPCertificatesPEM[0] = "changed", 9, "changed"
	again, err := decodeConfig("conn-cache-test", a)
	if err != nil || again.SAML.IdPMetadataXML != "<a/>" || again.SAML.SPKeySealed[0] != 1 ||
		again.SAML.IdPCertificatesPEM[0] != "p" || !again.Mapping.Seat {
		t.Fatalf("second read of the same row: %+v, %v", again.SAML, err)
	}
	other, err := decodeConfig("conn-cache-test", b)
	if err != nil || other.SAML.IdPMetadataXML != "<b/>" || other.SAML.IdPCertificatesPEM != nil || other.Mapping.Seat {
		t.Fatalf("read of the edited row: %+v, %v", other.SAML, err)
	}
	if _, err := decodeConfig("conn-cache-test", `{"saml":`); err == nil {
		t.Fatal("broken JSON decoded")
	}
}
