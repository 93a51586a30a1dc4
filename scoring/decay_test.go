package scoring

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/scorebridge/scorebridge/events"
	"github.com/scorebridge/scorebridge/rules"
	"github.com/scorebridge/scorebridge/synth"
)

// exp2Near stays within a few ulps of math.Exp2 over its whole range, far
// inside decayTolerance: the margin decayValue's fallback relies on.
func TestExp2Near(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	worst := 0.0
	check := func(x float64) {
		want, got := math.Exp2(x), exp2Near(x)
		if e := math.Abs(got-want) / want; e > worst {
			worst = e
		}
	}
	for range 2_000_000 {
		check(-33 * rng.Float64())
	}
	for n := -33 * 64 * 4; n <= 0; n++ { // the table's and the halves' edges
		x := float64(n) / 256
		check(x)
		check(math.Nextafter(x, 0))
		check(math.Nextafter(x, -34))
	}
	check(0)
	check(-33)
	t.Logf("worst relative error %.3g (%.2f ulps); tolerance %.3g", worst, worst/0x1p-52, decayTolerance)
	if worst > decayTolerance/64 {
		t.Fatalf("exp2Near is %.3g from math.Exp2: too close to the tolerance %.3g", worst, decayTolerance)
	}
}

// decayValue gives contribution's value, bit for bit: over random points and
// ages, and over products that lie exactly on a half (age a whole number
// of half-lives, odd points), where the fallback decides.
func TestDecayValueIsContribution(t *testing.T) {
	const maxEvent = rules.MaxEventPoints * rules.Scale
	rng := rand.New(rand.NewPCG(3, 4))
	halfLives := []time.Duration{time.Hour, 14 * 24 * time.Hour, 7*24*time.Hour + 1, time.Duration(rng.Int64N(int64(365 * 24 * time.Hour)))}
	slow := 0
	n := 0
	check := func(m *rules.Model, pts rules.Points, at, T int64) {
		n++
		want, _ := contribution(m, pts, at, T)
		var got rules.Points
		if m.Decays() && at < T {
			got = decayValue(pts, T-at, m.HalfLife, 1/float64(m.HalfLife))
		} else {
			got = pts // Engine.value's own shortcut
		}
		if got != want {
			t.Fatalf("half-life %v, %d points, age %d: decayed %d, contribution %d", m.HalfLife, pts, T-at, got, want)
		}
	}
	for _, h := range halfLives {
		m := &rules.Model{HalfLife: h}
		for range 500_000 {
			var pts rules.Points
			switch rng.IntN(3) {
			case 0: // whole points
				pts = rules.Points(rng.Int64N(201)-100) * 1_000_000
			case 1: // any micro-points
				pts = rules.Points(rng.Int64N(2*maxEvent+1) - maxEvent)
			default: // small
				pts = rules.Points(rng.Int64N(41) - 20)
			}
			age := rng.Int64N(int64(h) * 40)
			T := rng.Int64N(1<<62) + age
			check(m, pts, T-age, T)
		}
		for k := int64(1); k <= 34; k++ { // exact halves: 2^-k x pts
			for range 200 {
				pts := rules.Points(rng.Int64N(maxEvent)) | 1
				if rng.IntN(2) == 0 {
					pts = -pts
				}
				before := slowCalls(m, pts, k)
				slow += before
				check(m, pts, 0, k*int64(h))
			}
		}
		check(m, 5, 10, 10) // no age
		check(m, 5, 11, 10) // late
		check(m, 0, 0, int64(h))
	}
	check(&rules.Model{}, 7, 0, 1<<40) // no decay
	if slow == 0 {
		t.Fatal("no product fell on a half: the fallback was not tested")
	}
	t.Logf("%d cases, %d on a half", n, slow)
}

// slowCalls says whether pts x 2^-k lies on a half (1) or not (0).
func slowCalls(m *rules.Model, pts rules.Points, k int64) int {
	p := math.Ldexp(float64(pts), -int(k))
	if math.Abs(p-math.Trunc(p)) == 0.5 {
		return 1
	}
	return 0
}

func BenchmarkDecay(b *testing.B) {
	m := &rules.Model{HalfLife: 14 * 24 * time.Hour}
	rng := rand.New(rand.NewPCG(5, 6))
	ages := make([]int64, 1024)
	for i := range ages {
		ages[i] = rng.Int64N(int64(m.HalfLife) * 20)
	}
	var sink rules.Points
	inv := 1 / float64(m.HalfLife)
	b.Run("contribution", func(b *testing.B) {
		cpu0 := cpuTime()
		defer func() { b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op") }()
		for i := range b.N {
			v, _ := contribution(m, 4_000_000, 0, ages[i&1023]+1)
			sink += v
		}
	})
	b.Run("decayed", func(b *testing.B) {
		cpu0 := cpuTime()
		defer func() { b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op") }()
		for i := range b.N {
			sink += decayValue(4_000_000, ages[i&1023]+1, m.HalfLife, inv)
		}
	})
	_ = sink
}

// A decaying model's capped groups of either sign stop being summed once
// their newest entries reach the cap (entrySum): after every event, in
// any order, each score and group sum is still Evaluate's, with caps
// reached and not, fractional points that decay onto halves, windows on
// decaying groups, points from expressions (no known sign) and a short
// half-life that lets entries decay to nothing.
func TestDecayingCapsMatchReference(t *testing.T) {
	const yaml = `
model: fading
min_score: -40
max_score: 60
decay:
  half_life: 2d
groups:
  - {name: opens, when: 'event.type == "email_opened"', points: 1.5, max: 4}
  - {name: views, when: 'event.type == "page_viewed"', points: 0.3, max: 1.1, window: 10d}
  - {name: clicks, when: 'event.type in ["email_clicked", "cta_clicked"]', points: -0.7, min: -2}
  - {name: unsubs, when: 'event.type == "unsubscribed"', points: -9, min: -10, max: 5}
  - {name: forms, when: 'event.type == "form_submitted"', points: 'event.properties.form == "demo_request" ? 12 : -1', max: 15, min: -3}
  - {name: calls, when: 'event.type == "call_started"', points: 2.5, window: 5d}
  - {name: webinar, when: 'event.type == "webinar_attended"', points: 7, repeatable: false}
  - {name: zero, when: 'event.type == "email_replied"', points: 0, max: 0}
`
	m, err := rules.Parse("fading.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(&rules.Set{Models: []*rules.Model{m}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := synth.Default()
	cfg.Contacts, cfg.Days, cfg.DuplicateRate = 80, 40, 0.03
	stream, ids := byContact(t, cfg)
	r := rand.New(rand.NewPCG(7, 8))
	checked, capped := 0, 0
	for _, id := range ids {
		for perm := 0; perm < 2; perm++ {
			list := append([]events.Event(nil), stream[id]...)
			if perm > 0 {
				r.Shuffle(len(list), func(i, j int) { list[i], list[j] = list[j], list[i] })
			}
			s := NewScorer(e)
			var c Contact
			for i := range list {
				o := s.Apply(&c, &list[i])
				if o.Duplicate {
					continue
				}
				T := time.Unix(0, c.Latest).UTC()
				want := Evaluate(m, list[:i+1], T)
				if got := o.Models[0].Score; got != want.Score {
					t.Fatalf("contact %s perm %d after event %d (%s): running %s, Evaluate %s", id, perm, i, list[i].ID,
						rules.FormatPoints(got), rules.FormatPoints(want.Score))
				}
				groups := map[int]rules.Points{}
				s.GroupSums(&c, 0, c.Latest, func(g int, sum rules.Points) { groups[g] = sum })
				for g, gb := range want.Groups {
					if groups[g] != gb.Sum {
						t.Fatalf("contact %s perm %d after event %d: group %s %s, Evaluate %s", id, perm, i, gb.Name,
							rules.FormatPoints(groups[g]), rules.FormatPoints(gb.Sum))
					}
					if gb.Raw != gb.Sum {
						capped++
					}
				}
				checked++
			}
		}
	}
	if capped < checked/10 {
		t.Fatalf("caps bound only %d of %d group sums: the early stop is hardly tested", capped, checked)
	}
	t.Logf("%d running scores checked, %d capped group sums", checked, capped)
}

// decayAge's cache answers what the formula does, for points and
// half-lives that collide in it and follow each other in any order.
func TestDecayAgeCache(t *testing.T) {
	s := NewScorer(sampleEngine(t))
	rng := rand.New(rand.NewPCG(11, 12))
	hs := []time.Duration{time.Hour, 14 * 24 * time.Hour, 3*24*time.Hour + 7}
	var ps []rules.Points
	for range 40 {
		ps = append(ps, rules.Points(rng.Int64N(4001)-2000)*rules.Scale/4+rules.Points(rng.IntN(3)))
	}
	for range 20000 {
		h, pts := hs[rng.IntN(len(hs))], ps[rng.IntN(len(ps))]
		if pts == 0 {
			continue
		}
		halfLives := math.Log2(2 * math.Abs(float64(pts)))
		want := max(int64(float64(h)*halfLives)-int64(halfLives+1)*int64(time.Second), 0)
		if got := s.decayAge(h, pts); got != want {
			t.Fatalf("half-life %v, %d points: %d, want %d", h, pts, got, want)
		}
	}
}
