// download: saves a response's body (a file or an output the client fetched)
// as a download, through a blob: URL — the bytes come from the API's origin
// with the user's token, so a plain link would not do.

/** saveResponse saves res's body under name. */
export async function saveResponse(res: Response, name: string): Promise<void> {
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.rel = "noopener";
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}
