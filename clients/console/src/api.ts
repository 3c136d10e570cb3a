// api: the one Conveyor client of the console (clients/ts) and the vue-query
// composables over it. Every API call the console makes goes through here.

import {
  createConveyorClient,
  type ConveyorClient,
  type File,
  type FileFilter,
  type Job,
  type JobCreate,
  type Me,
  type MeUpdate,
  type Processor,
  type Team,
} from "@conveyor/client";
import { keepPreviousData, useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/vue-query";
import { computed, toValue, type MaybeRefOrGetter } from "vue";
import { accessToken } from "./auth";
import { capabilitiesIn } from "./capabilities";

/** conveyor is the console's client: same origin, the signed-in user's token on every request. */
export const conveyor: ConveyorClient = createConveyorClient({
  baseUrl: window.location.origin,
  getToken: accessToken,
});

/** PAGE_SIZE is how many rows a list page shows. */
export const PAGE_SIZE = 20;

/** keys are the vue-query keys, in one place so the event stream can update them. */
export const keys = {
  me: ["me"] as const,
  teams: ["teams"] as const,
  processors: ["processors"] as const,
  team: (teamId: string) => ["team", teamId] as const,
  files: (teamId: string) => ["files", teamId] as const,
  filesPage: (teamId: string, filter: FileFilter, cursor: string | undefined) => ["files", teamId, filter, cursor ?? ""] as const,
  file: (teamId: string, fileId: string) => ["file", teamId, fileId] as const,
  jobs: (teamId: string) => ["jobs", teamId] as const,
  jobsPage: (teamId: string, cursor: string | undefined) => ["jobs", teamId, cursor ?? ""] as const,
  job: (teamId: string, jobId: string) => ["job", teamId, jobId] as const,
  outputs: (teamId: string, jobId: string) => ["outputs", teamId, jobId] as const,
};

/** useMe is GET /me: the user, their platform role and memberships. */
export function useMe() {
  return useQuery({
    queryKey: keys.me,
    queryFn: async ({ signal }): Promise<Me> => (await conveyor.api.GET("/me", { signal })).data!,
    staleTime: 60_000,
  });
}

/** useUpdateMe is PATCH /me (the caller's own settings); its answer replaces the cached /me. */
export function useUpdateMe() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (body: MeUpdate): Promise<Me> => (await conveyor.api.PATCH("/me", { body })).data!,
    onSuccess: (me) => qc.setQueryData(keys.me, me),
  });
}

/** useCapabilities is what the user may do in a team, from /me. */
export function useCapabilities(teamId: MaybeRefOrGetter<string | undefined>) {
  const me = useMe();
  return computed(() => capabilitiesIn(me.data.value, toValue(teamId)));
}

/** useTeams lists the teams the user sees (every team for platform admins), first 100. */
export function useTeams() {
  return useQuery({
    queryKey: keys.teams,
    queryFn: async ({ signal }): Promise<Team[]> =>
      (await conveyor.api.GET("/teams", { params: { query: { limit: 100 } }, signal })).data!.items,
    staleTime: 60_000,
  });
}

/** useProcessors is GET /processors: each processor with its params JSON Schema. */
export function useProcessors() {
  return useQuery({
    queryKey: keys.processors,
    queryFn: async ({ signal }): Promise<Processor[]> => (await conveyor.api.GET("/processors", { signal })).data!.items,
    staleTime: 5 * 60_000,
  });
}

/** useFilesPage is one page of a team's files, newest first, narrowed by filter. */
export function useFilesPage(
  teamId: MaybeRefOrGetter<string>,
  filter: MaybeRefOrGetter<FileFilter>,
  cursor: MaybeRefOrGetter<string | undefined>,
) {
  return useQuery({
    queryKey: computed(() => keys.filesPage(toValue(teamId), toValue(filter), toValue(cursor))),
    queryFn: async ({ signal }) => {
      const c = toValue(cursor);
      const query = { ...toValue(filter), limit: PAGE_SIZE, ...(c ? { cursor: c } : {}) };
      return (await conveyor.api.GET("/teams/{team_id}/files", { params: { path: { team_id: toValue(teamId) }, query }, signal })).data!;
    },
    placeholderData: keepPreviousData,
  });
}

/** useFile is one file's metadata. */
export function useFile(teamId: MaybeRefOrGetter<string>, fileId: MaybeRefOrGetter<string>) {
  return useQuery({
    queryKey: computed(() => keys.file(toValue(teamId), toValue(fileId))),
    queryFn: async ({ signal }): Promise<File> =>
      (await conveyor.api.GET("/teams/{team_id}/files/{file_id}", {
        params: { path: { team_id: toValue(teamId), file_id: toValue(fileId) } },
        signal,
      })).data!,
  });
}

/** useJobsPage is one page of a team's jobs, newest first. */
export function useJobsPage(teamId: MaybeRefOrGetter<string>, cursor: MaybeRefOrGetter<string | undefined>) {
  return useQuery({
    queryKey: computed(() => keys.jobsPage(toValue(teamId), toValue(cursor))),
    queryFn: async ({ signal }) => {
      const c = toValue(cursor);
      const query = { limit: PAGE_SIZE, ...(c ? { cursor: c } : {}) };
      return (await conveyor.api.GET("/teams/{team_id}/jobs", { params: { path: { team_id: toValue(teamId) }, query }, signal })).data!;
    },
    placeholderData: keepPreviousData,
  });
}

/** useJob is one job; the team event stream keeps it current (see live.ts). */
export function useJob(teamId: MaybeRefOrGetter<string>, jobId: MaybeRefOrGetter<string>) {
  return useQuery({
    queryKey: computed(() => keys.job(toValue(teamId), toValue(jobId))),
    queryFn: async ({ signal }): Promise<Job> =>
      (await conveyor.api.GET("/teams/{team_id}/jobs/{job_id}", {
        params: { path: { team_id: toValue(teamId), job_id: toValue(jobId) } },
        signal,
      })).data!,
  });
}

/**
 * OUTPUTS_SETTLE_MS is how long after a job finished an empty list of its
 * outputs may be a replica's stale answer. The list is read from a replica,
 * and read-your-writes covers only the user's own writes, not the worker's:
 * the event stream can announce the success before the replica has
 * replayed it (the API sends no read to a replica further behind than 10 s
 * by default). OUTPUTS_REREAD_MS apart, at most OUTPUTS_REREADS times
 * (whatever the clocks say), such a list is read again.
 */
export const OUTPUTS_SETTLE_MS = 15_000;
export const OUTPUTS_REREAD_MS = 1_000;
export const OUTPUTS_REREADS = 15;

/**
 * outputsMayLag reports whether outputs, the list read for job (reads
 * times so far), may be missing what the job produced: it is empty, the job
 * succeeded less than OUTPUTS_SETTLE_MS before now, and it has been read
 * fewer than OUTPUTS_REREADS times.
 */
export function outputsMayLag(job: Job | undefined, outputs: readonly unknown[] | undefined, reads: number, now: number): boolean {
  if (job?.status !== "succeeded" || !job.finished_at || outputs?.length !== 0 || reads >= OUTPUTS_REREADS) return false;
  return now - Date.parse(job.finished_at) < OUTPUTS_SETTLE_MS;
}

/**
 * useJobOutputs lists a job's outputs once it has succeeded; an empty list
 * read just after it did is read again for a while (outputsMayLag).
 */
export function useJobOutputs(teamId: MaybeRefOrGetter<string>, jobId: MaybeRefOrGetter<string>, job: MaybeRefOrGetter<Job | undefined>) {
  return useQuery({
    queryKey: computed(() => keys.outputs(toValue(teamId), toValue(jobId))),
    queryFn: ({ signal }) => conveyor.jobOutputs(toValue(teamId), toValue(jobId), { signal }),
    enabled: computed(() => toValue(job)?.status === "succeeded"),
    refetchInterval: (query) =>
      outputsMayLag(toValue(job), query.state.data, query.state.dataUpdateCount, Date.now()) ? OUTPUTS_REREAD_MS : false,
  });
}

/** rememberJob puts a job the API just returned into the caches. */
export function rememberJob(qc: QueryClient, job: Job): void {
  qc.setQueryData(keys.job(job.team_id, job.id), job);
  qc.setQueriesData<{ items: Job[]; next_cursor: string | null }>({ queryKey: keys.jobs(job.team_id) }, (page) =>
    page ? { ...page, items: page.items.map((j) => (j.id === job.id ? job : j)) } : page,
  );
}

/** useCreateJob starts a job (202, queued). */
export function useCreateJob(teamId: MaybeRefOrGetter<string>) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (body: JobCreate): Promise<Job> =>
      (await conveyor.api.POST("/teams/{team_id}/jobs", { params: { path: { team_id: toValue(teamId) } }, body })).data!,
    onSuccess: (job) => {
      qc.setQueryData(keys.job(job.team_id, job.id), job);
      void qc.invalidateQueries({ queryKey: keys.jobs(job.team_id) });
    },
  });
}

/** useCancelJob cancels a queued or running job. */
export function useCancelJob(teamId: MaybeRefOrGetter<string>) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (jobId: string) => conveyor.cancelJob(toValue(teamId), jobId),
    onSuccess: (job) => rememberJob(qc, job),
  });
}

/** useRetryJob queues a failed or cancelled job again. */
export function useRetryJob(teamId: MaybeRefOrGetter<string>) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (jobId: string) => conveyor.retryJob(toValue(teamId), jobId),
    onSuccess: (job) => rememberJob(qc, job),
  });
}

/** useDeleteFile deletes a file (soft; its object is removed by a worker). */
export function useDeleteFile(teamId: MaybeRefOrGetter<string>) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (fileId: string) => {
      await conveyor.api.DELETE("/teams/{team_id}/files/{file_id}", { params: { path: { team_id: toValue(teamId), file_id: fileId } } });
      return fileId;
    },
    onSuccess: (fileId) => {
      qc.removeQueries({ queryKey: keys.file(toValue(teamId), fileId) });
      void qc.invalidateQueries({ queryKey: keys.files(toValue(teamId)) });
    },
  });
}
