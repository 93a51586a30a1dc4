package events

import "time"

// parseTimestamp parses the shape an RFC 3339 timestamp nearly always has,
// 2006-01-02T15:04:05[.999999999](Z|±07:00), exactly as
// time.Parse(time.RFC3339Nano, ...) does, and gives it in UTC. Anything
// else is false, for time.Parse to judge. It spares each event a string
// for the timestamp and time.Parse's time zone; FuzzTimestamp holds it to
// time.Parse.
func parseTimestamp(b []byte) (time.Time, bool) {
	if len(b) < len("2006-01-02T15:04:05Z") ||
		b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	b = b[19:]
	nsec := 0
	if len(b) >= 2 && b[0] == '.' && isDigit(b[1]) {
		n := 1
		for n < len(b) && isDigit(b[n]) {
			n++
		}
		// As time.Parse: nine digits count, more are read and dropped.
		frac := b[1:min(n, 10)]
		nsec, _ = num(frac)
		for range 9 - len(frac) {
			nsec *= 10
		}
		b = b[n:]
	}
	unix := days(year, month, day)*86400 + int64(hour*3600+minute*60+sec)
	if len(b) == 1 && b[0] == 'Z' {
		return time.Unix(unix, int64(nsec)).UTC(), true
	}
	if len(b) != len("-07:00") || b[0] != '+' && b[0] != '-' || b[3] != ':' {
		return time.Time{}, false
	}
	zh, ok1 := num(b[1:3])
	zm, ok2 := num(b[4:6])
	if !ok1 || !ok2 || zh > 23 || zm > 59 {
		return time.Time{}, false
	}
	offset := int64(zh*3600 + zm*60)
	if b[0] == '-' {
		offset = -offset
	}
	return time.Unix(unix-offset, int64(nsec)).UTC(), true
}

// days is the number of days from 1970-01-01 to a valid date of the
// proleptic Gregorian calendar (H. Hinnant's days_from_civil): cheaper
// than time.Date, which also normalises out-of-range fields.
func days(year, month, day int) int64 {
	if month <= 2 {
		year--
	}
	era := year / 400
	if year < 0 {
		era = (year - 399) / 400
	}
	yoe := year - era*400
	mp := (month + 9) % 12 // March is 0
	doy := (153*mp+2)/5 + day - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097+doe) - 719468
}

// num is the value of a run of decimal digits.
func num(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
