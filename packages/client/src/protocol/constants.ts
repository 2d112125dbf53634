/** Roles of §3 and the namespaces of §11: values shared by the server and the SDK. */
export const ROLES = ['admin', 'nurse', 'staff', 'parent', 'service'] as const;
export type Role = (typeof ROLES)[number];
export const NAMESPACES = ['/', '/communication'] as const;
export type NamespaceName = (typeof NAMESPACES)[number];
