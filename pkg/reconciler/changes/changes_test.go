package changes

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
)

func TestRecordOneEventPerKindOfChange(t *testing.T) {
	owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}
	tests := []struct {
		name string
		log  func(*Log)
		want []string
	}{
		{"nothing written", func(*Log) {}, nil},
		{"one child", func(l *Log) { l.Created("Deployment", "a") }, []string{`Normal Created Created Deployment "a"`}},
		{"children created and updated", func(l *Log) {
			l.Created("Deployment", "a")
			l.Updated("Service", "a")
			l.Created("Service", "a-private")
		}, []string{
			`Normal Created Created Deployment "a", Service "a-private"`,
			`Normal Updated Updated Service "a"`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := events.NewFakeRecorder(10)
			var l Log
			tt.log(&l)
			l.Record(rec, owner)
			close(rec.Events)
			var got []string
			for e := range rec.Events {
				got = append(got, e)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("events = %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("event %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestRecordWithoutRecorder(t *testing.T) {
	var l Log
	l.Created("Deployment", "a")
	l.Record(nil, &corev1.ConfigMap{}) // must not panic
}
