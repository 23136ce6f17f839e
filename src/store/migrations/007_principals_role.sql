-- trail <role ARN> finds the role's sessions by role name.
CREATE INDEX principals_role_name ON principals (lower(role_name));
