// A tour of the simulated MAAS region by Juju's own MAAS client, Debian's gomaasapi
// (golang-github-juju-gomaasapi-dev, built offline from /usr/share/gocode). gomaasapi parses
// every object strictly (one bad field fails the whole list: maas-network-storage.md §8), so
// each step that returns shows the simulator's answers are ones a real client accepts.
// Run by test/gomaasapi/tour.test.ts: MAAS_URL and MAAS_KEY name the simulator.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/juju/gomaasapi"
)

func fail(step string, format string, args ...interface{}) {
	fmt.Printf("FAIL %s: %s\n", step, fmt.Sprintf(format, args...))
	os.Exit(1)
}

func check(step string, err error) {
	if err != nil {
		fail(step, "%v", err)
	}
}

func ok(step string, format string, args ...interface{}) {
	fmt.Printf("ok %s: %s\n", step, fmt.Sprintf(format, args...))
}

func waitFor(ctrl gomaasapi.Controller, sid, status string) gomaasapi.Machine {
	for i := 0; i < 200; i++ {
		ms, err := ctrl.Machines(gomaasapi.MachinesArgs{SystemIDs: []string{sid}})
		check("poll "+status, err)
		if len(ms) == 1 && ms[0].StatusName() == status {
			return ms[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	fail("poll "+status, "machine %s never reached %s", sid, status)
	return nil
}

func main() {
	ctrl, err := gomaasapi.NewController(gomaasapi.ControllerArgs{BaseURL: os.Getenv("MAAS_URL"), APIKey: os.Getenv("MAAS_KEY")})
	check("controller", err)
	if !ctrl.Capabilities().Contains(gomaasapi.NetworksManagement) {
		fail("capabilities", "no %s in %v", gomaasapi.NetworksManagement, ctrl.Capabilities().Values())
	}
	ok("controller", "capabilities %v", ctrl.Capabilities().SortedValues())

	zones, err := ctrl.Zones()
	check("zones", err)
	ok("zones", "%d", len(zones))
	spaces, err := ctrl.Spaces()
	check("spaces", err)
	names := []string{}
	for _, s := range spaces {
		names = append(names, s.Name())
		for _, sn := range s.Subnets() {
			if sn.VLAN() == nil || sn.CIDR() == "" {
				fail("spaces", "subnet %d of %s has no VLAN or CIDR", sn.ID(), s.Name())
			}
		}
	}
	ok("spaces", "%v", names)
	fabrics, err := ctrl.Fabrics()
	check("fabrics", err)
	for _, f := range fabrics {
		for _, v := range f.VLANs() {
			ok("vlan", "%s %d vid %d mtu %d", f.Name(), v.ID(), v.VID(), v.MTU())
		}
	}

	// Every machine in every state the fleet holds, parsed strictly.
	all, err := ctrl.Machines(gomaasapi.MachinesArgs{})
	check("machines", err)
	states := map[string]int{}
	for _, m := range all {
		states[m.StatusName()]++
		for _, i := range m.InterfaceSet() {
			for _, l := range i.Links() {
				_ = l.Mode()
			}
		}
	}
	ok("machines", "%d in %v", len(all), states)

	args := gomaasapi.AllocateMachineArgs{
		Tags:       []string{"compute"},
		Zone:       "az1",
		Storage:    []gomaasapi.StorageSpec{{Label: "root", Size: 100}, {Label: "data", Size: 500, Tags: []string{"ssd"}}},
		Interfaces: []gomaasapi.InterfaceSpec{{Label: "pub", Space: "public"}},
		NotSpace:   []string{"storage"},
		AgentName:  "tour",
	}
	m, matches, err := ctrl.AllocateMachine(args)
	check("allocate", err)
	if len(matches.Storage["root"]) != 1 || len(matches.Storage["data"]) != 1 || len(matches.Interfaces["pub"]) != 1 {
		fail("allocate", "constraint matches %v", matches)
	}
	if vlan := matches.Interfaces["pub"][0].VLAN(); vlan == nil || vlan.Fabric() != "public" {
		fail("allocate", "interface for space public is on %v", vlan)
	}
	ok("allocate", "%s (%s) root %d data %d pub %s", m.Hostname(), m.StatusName(), matches.Storage["root"][0].ID(), matches.Storage["data"][0].ID(), matches.Interfaces["pub"][0].Name())

	_, _, err = ctrl.AllocateMachine(gomaasapi.AllocateMachineArgs{Storage: []gomaasapi.StorageSpec{{Label: "root", Size: 999999}}})
	if !gomaasapi.IsNoMatchError(err) {
		fail("allocate root:999999", "want a NoMatchError, got %v", err)
	}
	ok("allocate root:999999", "%v", err)

	check("set owner data", m.SetOwnerData(map[string]string{"juju-model-uuid": "tour"}))
	if m.OwnerData()["juju-model-uuid"] != "tour" {
		fail("set owner data", "owner data %v", m.OwnerData())
	}
	ok("set owner data", "%v", m.OwnerData())

	check("deploy", m.Start(gomaasapi.StartArgs{DistroSeries: "jammy"}))
	ok("deploy", "%s", m.StatusName())
	d := waitFor(ctrl, m.SystemID(), "Deployed")
	if len(d.IPAddresses()) == 0 {
		fail("deployed", "no ip addresses")
	}
	for _, b := range d.BlockDevices() {
		for _, p := range b.Partitions() {
			if p.UUID() == "" {
				fail("deployed", "partition %d has no uuid", p.ID())
			}
			if fs := p.FileSystem(); fs != nil && fs.UUID() == "" {
				fail("deployed", "filesystem on partition %d has no uuid", p.ID())
			}
		}
	}
	root := d.BlockDevices()[0].Partitions()[0]
	ok("deployed", "%s addresses %v root %s %s %s", d.Hostname(), d.IPAddresses(), root.Path(), root.FileSystem().Type(), root.FileSystem().MountPoint())
	boot := d.BootInterface()
	if boot == nil || len(boot.Links()) == 0 || boot.Links()[0].IPAddress() == "" || boot.Links()[0].Subnet() == nil {
		fail("deployed", "boot interface without an addressed link")
	}
	ok("interfaces", "%s %s %s on %s (space %s)", boot.Name(), boot.Links()[0].Mode(), boot.Links()[0].IPAddress(), boot.Links()[0].Subnet().CIDR(), boot.Links()[0].Subnet().Space())

	err = ctrl.ReleaseMachines(gomaasapi.ReleaseMachinesArgs{SystemIDs: []string{"nosuch"}})
	if !gomaasapi.IsBadRequestError(err) {
		fail("release unknown", "want a BadRequestError, got %v", err)
	}
	ok("release unknown", "%v", err)
	check("release", ctrl.ReleaseMachines(gomaasapi.ReleaseMachinesArgs{SystemIDs: []string{m.SystemID()}, Comment: "tour"}))
	r := waitFor(ctrl, m.SystemID(), "Ready")
	if len(r.OwnerData()) != 0 {
		fail("released", "owner data kept: %v", r.OwnerData())
	}
	ok("released", "%s %s", r.Hostname(), r.StatusName())

	// No MAAS serves pools/ (resource pools are resourcepools/): gomaasapi's Pools() fails on a real region too.
	if _, err := ctrl.Pools(); err == nil {
		fail("pools", "pools/ answered")
	}
	ok("pools", "pools/ is not served, as on a real region")

	_, err = gomaasapi.NewController(gomaasapi.ControllerArgs{BaseURL: os.Getenv("MAAS_URL"), APIKey: "a:b:c"})
	if err == nil {
		fail("bad key", "a wrong key was accepted")
	}
	ok("bad key", "%v", err)
	fmt.Println("TOUR PASSED")
}
