package admin

import (
	"net/http"

	"github.com/seatbridge/seatbridge/provisioning"
)

type seatsReq struct {
	UserIDs []string `json:"userIds"`
	Roles   []string `json:"roles"`
}

type seatsResp struct {
	Changed []string                `json:"changed"`
	Seats   *provisioning.SeatUsage `json:"seats"`
}

func (a *API) seatUsage(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	u, err := a.eng.SeatUsage(r.Context(), p.Tenant.ID)
	return reply(w, http.StatusOK, u, err)
}

func (a *API) writeSeats(w http.ResponseWriter, r *http.Request, p *provisioning.Principal, changed []string) error {
	u, err := a.eng.SeatUsage(r.Context(), p.Tenant.ID)
	return reply(w, http.StatusOK, seatsResp{Changed: nonNil(changed), Seats: u}, err)
}

// assignSeats gives seats to one or many users at once ("Add user(s)").
func (a *API) assignSeats(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	var in seatsReq
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	changed, err := a.eng.AssignSeats(r.Context(), p.Actor, p.Tenant.ID, in.UserIDs, in.Roles)
	if err != nil {
		return err
	}
	return a.writeSeats(w, r, p, changed)
}

func (a *API) unassignSeats(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	var in struct {
		UserIDs []string `json:"userIds"`
	}
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	changed, err := a.eng.UnassignSeats(r.Context(), p.Actor, p.Tenant.ID, in.UserIDs)
	if err != nil {
		return err
	}
	return a.writeSeats(w, r, p, changed)
}

func (a *API) listPermissions(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	writeJSON(w, http.StatusOK, map[string]any{"permissions": a.eng.Permissions()})
	return nil
}

func (a *API) listRoles(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	roles, err := a.eng.ListRoles(r.Context(), p.Tenant.ID)
	return reply(w, http.StatusOK, map[string]any{"roles": nonNil(roles)}, err)
}

type roleReq struct {
	Name        *string                    `json:"name"`
	Description *string                    `json:"description"`
	Permissions *[]provisioning.Permission `json:"permissions"`
}

func (a *API) createRole(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	var in roleReq
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	role, err := a.eng.CreateRole(r.Context(), p.Actor, p.Tenant.ID, provisioning.RoleInput(in))
	if err != nil {
		return err
	}
	return created(w, "/roles/"+role.ID, role)
}

func (a *API) getRole(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	role, err := a.eng.GetRole(r.Context(), p.Tenant.ID, r.PathValue("id"))
	return reply(w, http.StatusOK, role, err)
}

func (a *API) updateRole(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	var in roleReq
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	role, err := a.eng.UpdateRole(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id"), provisioning.RoleInput(in))
	return reply(w, http.StatusOK, role, err)
}

func (a *API) deleteRole(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	return noContent(w, a.eng.DeleteRole(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id")))
}

func (a *API) listTeams(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	teams, err := a.eng.ListTeams(r.Context(), p.Tenant.ID)
	return reply(w, http.StatusOK, map[string]any{"teams": nonNil(teams)}, err)
}

type teamReq struct {
	Name        *string  `json:"name"`
	Description *string  `json:"description"`
	Members     []string `json:"members"`
}

func (a *API) createTeam(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	var in teamReq
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	t, err := a.eng.CreateTeam(r.Context(), p.Actor, p.Tenant.ID, provisioning.TeamInput{Name: in.Name, Description: in.Description}, in.Members)
	if err != nil {
		return err
	}
	return created(w, "/teams/"+t.ID, t)
}

func (a *API) getTeam(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	t, err := a.eng.GetTeam(r.Context(), p.Tenant.ID, r.PathValue("id"))
	return reply(w, http.StatusOK, t, err)
}

func (a *API) updateTeam(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	var in struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
	}
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	t, err := a.eng.UpdateTeam(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id"), provisioning.TeamInput(in))
	return reply(w, http.StatusOK, t, err)
}

func (a *API) deleteTeam(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	return noContent(w, a.eng.DeleteTeam(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id")))
}

func (a *API) teamMembers(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	uq, err := userQuery(r)
	if err != nil {
		return err
	}
	page, err := a.eng.ListTeamMembers(r.Context(), p.Tenant.ID, r.PathValue("id"), uq)
	return a.writeUserPage(w, r, uq, page, err)
}

func (a *API) addTeamMembers(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	var in struct {
		UserIDs []string `json:"userIds"`
	}
	if err := a.decode(w, r, &in); err != nil {
		return err
	}
	t, err := a.eng.AddTeamMembers(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id"), in.UserIDs)
	return reply(w, http.StatusOK, t, err)
}

func (a *API) removeTeamMember(w http.ResponseWriter, r *http.Request, p *provisioning.Principal) error {
	return noContent(w, a.eng.RemoveTeamMember(r.Context(), p.Actor, p.Tenant.ID, r.PathValue("id"), r.PathValue("userId")))
}
